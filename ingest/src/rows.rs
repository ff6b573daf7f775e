//! Row parsers: one line of a file → a typed row, with columns resolved once per file from its header.

use crate::layout::*;
use crate::parse::{Fields, RowIssue};
use annuaire_schemas::codes::{self, Kind};
use annuaire_schemas::model::{Activity, Coded, Diploma, SavoirFaire, Structure};
use annuaire_schemas::{RegistrationField, Text};

/// Declares a struct of column indexes resolved from a header by name.
macro_rules! columns {
    ($name:ident { $($field:ident => $col:expr),* $(,)? }) => {
        #[allow(missing_docs)]
        pub(crate) struct $name { $($field: Option<usize>),* }
        impl $name {
            pub(crate) fn resolve(h: &Header) -> Self { Self { $($field: h.get($col)),* } }
        }
    };
}

columns!(PaCols {
    type_id => TYPE_ID, id => ID, idnat => IDNAT, civ_ex => CIV_EX, civ_ex_l => CIV_EX_L, civ => CIV, civ_l => CIV_L,
    nom => NOM_EXERCICE, prenom => PRENOM_EXERCICE, prof => PROFESSION, prof_l => PROFESSION_L, cat => CATEGORY,
    cat_l => CATEGORY_L, sf_type => SF_TYPE, sf_type_l => SF_TYPE_L, sf => SF, sf_l => SF_L, mode => MODE,
    mode_l => MODE_L, siret => SIRET, siren => SIREN, finess => FINESS, finess_ej => FINESS_EJ, tech_id => TECH_ID,
    raison => RAISON_SOCIALE, enseigne => ENSEIGNE, compl_dest => COMPL_DEST, compl_geo => COMPL_GEO,
    num_voie => NUM_VOIE, indice => INDICE_VOIE, type_voie => TYPE_VOIE, type_voie_l => TYPE_VOIE_L, voie => VOIE,
    distribution => DISTRIBUTION, cedex => CEDEX, cp => CODE_POSTAL, commune => COMMUNE, commune_l => COMMUNE_L,
    pays => PAYS, pays_l => PAYS_L, tel => TEL, tel2 => TEL2, fax => FAX, email => EMAIL, dept => DEPT,
    dept_l => DEPT_L, old_id => OLD_ID, autorite => AUTORITE, secteur => SECTEUR, secteur_l => SECTEUR_L,
    section => SECTION, section_l => SECTION_L, role => ROLE, role_l => ROLE_L, genre => GENRE, genre_l => GENRE_L,
    nom_famille => NOM_FAMILLE, prenoms => PRENOMS, birth_date => BIRTH_DATE, birth_commune => BIRTH_COMMUNE,
    birth_country => BIRTH_COUNTRY, birth_place => BIRTH_PLACE, sex => SEX, corr_phone => CORR_PHONE,
    corr_email => CORR_EMAIL,
});

columns!(SfCols {
    type_id => TYPE_ID, id => ID, idnat => IDNAT, prof => PROFESSION, cat => CATEGORY,
    sf_type => SF_TYPE, sf_type_l => SF_TYPE_L, sf => SF, sf_l => SF_L,
});

columns!(DiplCols {
    type_id => TYPE_ID, id => ID, idnat => IDNAT, dipl_type => DIPL_TYPE, dipl_type_l => DIPL_TYPE_L,
    dipl => DIPL, dipl_l => DIPL_L, aut_type => AUT_TYPE, aut_type_l => AUT_TYPE_L, aut_disc => AUT_DISC,
    aut_disc_l => AUT_DISC_L,
});

columns!(CardCols {
    type_id => TYPE_ID, id => ID, idnat => IDNAT, card_type => CARD_TYPE, card_type_l => CARD_TYPE_L,
    number => CARD_NUMBER, embedded => CARD_EMBEDDED_ID, from => CARD_FROM, to => CARD_TO, opposed => CARD_OPPOSED,
    updated => CARD_UPDATED,
});

columns!(MbCols {
    type_id => TYPE_ID, id => ID, idnat => IDNAT, kind => MB_TYPE, address => MB_ADDRESS,
    struct_type => MB_STRUCT_TYPE, struct_id => MB_STRUCT_ID, service => MB_SERVICE, struct_name => MB_STRUCT_NAME,
    demat => MB_DEMAT,
});

/// The idNat a line of any file belongs to: `Identification nationale PP` when given, else the type followed by the
/// identifier, else (a file without those columns, such as the card file's data.gouv.fr mirror) the identifier with
/// the type its form implies: 11 digits are an RPPS (`8`), 9 characters an ADELI (`0`). Empty when there is no id.
pub(crate) fn person_key(idnat: &str, type_id: &str, id: &str) -> String {
    person_key_ref(idnat, type_id, id).into_owned()
}

/// [`person_key`], borrowed from the line when it is one of its fields (the idNat column, nearly always).
pub(crate) fn person_key_ref<'a>(idnat: &'a str, type_id: &str, id: &'a str) -> std::borrow::Cow<'a, str> {
    let (n, t, i) = (idnat.trim(), type_id.trim(), id.trim());
    if !n.is_empty() {
        n.into()
    } else if !t.is_empty() && !i.is_empty() {
        format!("{t}{i}").into()
    } else if i.len() == 11 && i.bytes().all(|b| b.is_ascii_digit()) {
        format!("8{i}").into()
    } else if i.len() == 9 {
        format!("0{i}").into()
    } else {
        i.into()
    }
}

/// A date of the card file as ISO `yyyy-mm-dd`: `dd/mm/yyyy` (restricted DSFT) and `yyyymmdd` (data.gouv.fr
/// mirror) are both accepted, and ISO itself. Empty stays empty.
pub(crate) fn iso_date(raw: &str) -> Option<String> {
    let r = raw.trim();
    let d = if r.is_empty() {
        return Some(String::new());
    } else if let [d, m, y] = r.split('/').collect::<Vec<_>>()[..] {
        (y.len() == 4 && m.len() <= 2 && d.len() <= 2).then(|| format!("{y}-{m:0>2}-{d:0>2}"))?
    } else if r.len() == 8 && r.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &r[..4], &r[4..6], &r[6..])
    } else if r.len() == 10 && r.as_bytes()[4] == b'-' && r.as_bytes()[7] == b'-' {
        r.to_string()
    } else {
        return None;
    };
    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok().map(|_| d)
}

/// One line of Porteurs_CPS_CPF.
#[derive(Debug, Clone)]
pub(crate) struct CardRow {
    pub idnat: String,
    pub card: annuaire_schemas::Card,
}

pub(crate) fn parse_card(c: &CardCols, f: &Fields<'_>) -> Result<CardRow, RowIssue> {
    let idnat = person_key(f.at(c.idnat), f.at(c.type_id), f.at(c.id));
    if idnat.is_empty() {
        return Err(RowIssue { field: c.id, kind: "missing_id", message: "no Identifiant PP".into(), idnat: None });
    }
    let number = f.at(c.number).trim().to_string();
    if number.is_empty() {
        return Err(RowIssue {
            field: c.number,
            kind: "missing_card_number",
            message: "no card number".into(),
            idnat: Some(idnat),
        });
    }
    let date = |i: Option<usize>| -> Result<String, RowIssue> {
        iso_date(f.at(i)).ok_or_else(|| RowIssue {
            field: i,
            kind: "bad_date",
            message: format!("{:?} is not a date (dd/mm/yyyy or yyyymmdd)", f.at(i)),
            idnat: Some(idnat.clone()),
        })
    };
    let card = annuaire_schemas::Card {
        number,
        card_type: coded(f, c.card_type, c.card_type_l),
        embedded_id: f.at(c.embedded).trim().to_string(),
        valid_from: date(c.from)?,
        valid_to: date(c.to)?,
        opposed_on: date(c.opposed)?,
        updated_on: date(c.updated)?,
    };
    Ok(CardRow { idnat, card })
}

/// One line of Extraction_Correspondance_MSSante.
#[derive(Debug, Clone)]
pub(crate) struct MailboxRow {
    /// Empty for an organisation's mailbox.
    pub idnat: String,
    pub mailbox: annuaire_schemas::Mailbox,
}

pub(crate) fn parse_mailbox(c: &MbCols, f: &Fields<'_>) -> Result<MailboxRow, RowIssue> {
    let idnat = person_key(f.at(c.idnat), f.at(c.type_id), f.at(c.id));
    let address = f.at(c.address).trim().to_string();
    if !address.contains('@') {
        return Err(RowIssue {
            field: c.address,
            kind: "bad_mailbox",
            message: format!("{address:?} is not a mail address"),
            idnat: (!idnat.is_empty()).then_some(idnat),
        });
    }
    let (st, si) = (f.at(c.struct_type).trim(), f.at(c.struct_id).trim());
    let mailbox = annuaire_schemas::Mailbox {
        address,
        kind: f.at(c.kind).trim().to_string(),
        structure_id: if si.is_empty() { String::new() } else { format!("{st}{si}") },
        service: f.at(c.service).trim().to_string(),
        structure_name: f.at(c.struct_name).trim().to_string(),
        dematerialisation: f.at(c.demat).trim().to_string(),
    };
    Ok(MailboxRow { idnat, mailbox })
}

/// The person identity columns of any file.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub idnat: String,
    pub id_type: String,
    pub id: String,
}

fn ids(f: &Fields<'_>, type_id: Option<usize>, id: Option<usize>, idnat: Option<usize>) -> Result<Ids, RowIssue> {
    let (t, i, n) = (f.at(type_id).trim(), f.at(id).trim(), f.at(idnat).trim());
    let idnat_value = if n.is_empty() && !t.is_empty() && !i.is_empty() { format!("{t}{i}") } else { n.to_string() };
    if idnat_value.is_empty() {
        return Err(RowIssue {
            field: idnat,
            kind: "missing_id",
            message: "no national identifier (Identification nationale PP, Type d'identifiant PP and Identifiant PP are empty)".into(),
            idnat: None,
        });
    }
    Ok(Ids { idnat: idnat_value, id_type: t.to_string(), id: i.to_string() })
}

fn coded(f: &Fields<'_>, code: Option<usize>, label: Option<usize>) -> Coded {
    Coded { code: Text::owned(f.at(code).trim()), label: Text::owned(f.at(label)) }
}

/// [`coded`] for a column of a shipped table: a code the table knows is the table's own string, and so is its label
/// when the file wrote the table's label (most lines: neither is copied). Any other text is kept as written.
fn known(kind: Kind, f: &Fields<'_>, code: Option<usize>, label: Option<usize>) -> Coded {
    match codes::lookup(kind, f.at(code).trim()) {
        Some(e) => {
            let label = f.at(label);
            Coded {
                code: Text::from_static(e.code),
                label: if label == e.label { Text::from_static(e.label) } else { Text::owned(label) },
            }
        }
        None => coded(f, code, label),
    }
}

fn text(f: &Fields<'_>, i: Option<usize>) -> String {
    f.at(i).to_string()
}

/// One line of Personne_activite.
#[derive(Debug, Clone)]
pub(crate) struct PaRow {
    pub line_hash: u64,
    pub ids: Ids,
    pub civilite: Coded,
    pub profession: Coded,
    pub category: Coded,
    pub civilite_exercice: Coded,
    pub family_name: String,
    pub given_name: String,
    pub savoir_faire: Option<SavoirFaire>,
    pub activity: Option<Activity>,
    pub authority_part1: String,
    /// From the restricted PSC file only.
    pub civil_status: Option<annuaire_schemas::CivilStatus>,
}

/// The civil-status columns of the PSC file, when the file has them and the line fills one.
fn civil_status(c: &PaCols, f: &Fields<'_>) -> Option<annuaire_schemas::CivilStatus> {
    c.nom_famille?;
    let raw_names = f.at(c.prenoms).trim().to_string();
    let raw_birth = f.at(c.birth_date).trim().to_string();
    let cs = annuaire_schemas::CivilStatus {
        family_name: f.at(c.nom_famille).trim().to_string(),
        first_names: annuaire_schemas::CivilStatus::split_first_names(&raw_names),
        first_names_raw: raw_names,
        birth_date: iso_date(&raw_birth).unwrap_or_default(),
        birth_date_raw: raw_birth,
        birth_commune: f.at(c.birth_commune).trim().to_string(),
        birth_country: f.at(c.birth_country).trim().to_string(),
        birth_place: f.at(c.birth_place).trim().to_string(),
        sex: f.at(c.sex).trim().to_string(),
        phone: f.at(c.corr_phone).trim().to_string(),
        email: f.at(c.corr_email).trim().to_string(),
    };
    (!cs.is_empty()).then_some(cs)
}

pub(crate) fn parse_pa(c: &PaCols, f: &Fields<'_>) -> Result<PaRow, RowIssue> {
    let ids = ids(f, c.type_id, c.id, c.idnat)?;
    let civil_status = civil_status(c, f);
    let sf_code = known(Kind::SavoirFaire, f, c.sf, c.sf_l);
    let sf_type = known(Kind::SavoirFaireType, f, c.sf_type, c.sf_type_l);
    let savoir_faire =
        (!sf_code.is_empty() || !sf_type.is_empty()).then_some(SavoirFaire { kind: sf_type, code: sf_code });
    let registration = RegistrationField::parse(f.at(c.autorite));
    let structure = Structure {
        siret: text(f, c.siret),
        siren: text(f, c.siren),
        finess_site: text(f, c.finess),
        finess_ej: text(f, c.finess_ej),
        technical_id: text(f, c.tech_id),
        name: text(f, c.raison),
        commercial_name: text(f, c.enseigne),
        recipient_complement: text(f, c.compl_dest),
        geo_complement: text(f, c.compl_geo),
        street_number: text(f, c.num_voie),
        street_repetition: text(f, c.indice),
        street_type: coded(f, c.type_voie, c.type_voie_l),
        street_label: text(f, c.voie),
        distribution: text(f, c.distribution),
        cedex_office: text(f, c.cedex),
        postal_code: text(f, c.cp),
        commune: coded(f, c.commune, c.commune_l),
        country: coded(f, c.pays, c.pays_l),
        phone: text(f, c.tel),
        phone2: text(f, c.tel2),
        fax: text(f, c.fax),
        email: text(f, c.email),
        department: coded(f, c.dept, c.dept_l),
        old_id: text(f, c.old_id),
    };
    let activity = Activity {
        mode: known(Kind::Mode, f, c.mode, c.mode_l),
        sector: known(Kind::Sector, f, c.secteur, c.secteur_l),
        pharmacist_section: known(Kind::PharmacistSection, f, c.section, c.section_l),
        role: known(Kind::Role, f, c.role, c.role_l),
        genre: known(Kind::Genre, f, c.genre, c.genre_l),
        registration: RegistrationField::default(),
        structure,
    };
    // A row carries an activity when any activity or structure column has a value: the authority field
    // alone (`ARS//`, `CNOM//`) marks a person without activity.
    let has_activity = !activity.is_empty();
    let authority_part1 = registration.exercice.clone();
    let activity = has_activity.then_some(Activity { registration, ..activity });
    Ok(PaRow {
        line_hash: f.line_hash(),
        ids,
        civilite: known(Kind::Civilite, f, c.civ, c.civ_l),
        profession: known(Kind::Profession, f, c.prof, c.prof_l),
        category: known(Kind::Category, f, c.cat, c.cat_l),
        civilite_exercice: known(Kind::CiviliteExercice, f, c.civ_ex, c.civ_ex_l),
        family_name: text(f, c.nom),
        given_name: text(f, c.prenom),
        savoir_faire,
        activity,
        authority_part1,
        civil_status,
    })
}

/// One line of SavoirFaire.
#[derive(Debug, Clone)]
pub(crate) struct SfRow {
    pub ids: Ids,
    pub profession: String,
    pub category: String,
    pub savoir_faire: SavoirFaire,
}

pub(crate) fn parse_sf(c: &SfCols, f: &Fields<'_>) -> Result<SfRow, RowIssue> {
    Ok(SfRow {
        ids: ids(f, c.type_id, c.id, c.idnat)?,
        profession: f.at(c.prof).trim().to_string(),
        category: f.at(c.cat).trim().to_string(),
        savoir_faire: SavoirFaire {
            kind: known(Kind::SavoirFaireType, f, c.sf_type, c.sf_type_l),
            code: known(Kind::SavoirFaire, f, c.sf, c.sf_l),
        },
    })
}

/// One line of Dipl_AutExerc.
#[derive(Debug, Clone)]
pub(crate) struct DiplRow {
    pub ids: Ids,
    pub diploma: Diploma,
}

pub(crate) fn parse_dipl(c: &DiplCols, f: &Fields<'_>) -> Result<DiplRow, RowIssue> {
    Ok(DiplRow {
        ids: ids(f, c.type_id, c.id, c.idnat)?,
        diploma: Diploma {
            diploma_type: known(Kind::DiplomaType, f, c.dipl_type, c.dipl_type_l),
            diploma: coded(f, c.dipl, c.dipl_l),
            authorisation_type: known(Kind::AuthorisationType, f, c.aut_type, c.aut_type_l),
            authorisation_discipline: coded(f, c.aut_disc, c.aut_disc_l),
        },
    })
}
