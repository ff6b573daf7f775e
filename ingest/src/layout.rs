//! The files of a PS_LibreAcces extract and their columns: the only place that knows column names.
//!
//! Columns are mapped **by header name**, never by position: the Personne_activite file grew from 52 to 56
//! columns (extract-format.md §3.2) and ANS reserves the right to append more. Unknown extra columns are
//! ignored; a missing *required* column makes the header unusable (the run fails with the file's name).

use std::collections::HashMap;

/// The kinds of file an extract holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `PS_LibreAcces_Personne_activite_<ts>.txt`: one line per person x savoir-faire x activity.
    PersonneActivite,
    /// `PS_LibreAcces_SavoirFaire_<ts>.txt`: one line per person x savoir-faire.
    SavoirFaire,
    /// `PS_LibreAcces_Dipl_AutExerc_<ts>.txt`: one line per diploma or authorisation.
    DiplAutExerc,
    /// `Extraction_ProSanteConnect_Personne_activite_<ts>.txt`: the restricted file for Pro Santé Connect, read
    /// instead of the public Personne_activite (codes without labels, plus civil status and birth data).
    PscPersonneActivite,
    /// `Porteurs_CPS_CPF_<ts>.txt`: one line per card (its own extract; ISO-8859-1 lines are read too).
    Cards,
    /// `Extraction_Correspondance_MSSante_<ts>.txt`: one line per MSSanté mailbox (31 columns).
    Mailboxes,
}

impl FileKind {
    /// All kinds, main file first.
    pub const ALL: [FileKind; 6] = [
        FileKind::PersonneActivite,
        FileKind::PscPersonneActivite,
        FileKind::SavoirFaire,
        FileKind::DiplAutExerc,
        FileKind::Cards,
        FileKind::Mailboxes,
    ];

    /// True for the files whose lines make persons (the public Personne_activite or the restricted PSC file).
    pub fn is_main(self) -> bool {
        matches!(self, FileKind::PersonneActivite | FileKind::PscPersonneActivite)
    }

    /// Stable name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::PersonneActivite => "Personne_activite",
            FileKind::SavoirFaire => "SavoirFaire",
            FileKind::DiplAutExerc => "Dipl_AutExerc",
            FileKind::PscPersonneActivite => "ProSanteConnect_Personne_activite",
            FileKind::Cards => "Porteurs_CPS_CPF",
            FileKind::Mailboxes => "Correspondance_MSSante",
        }
    }

    /// Recognise a member or file name: `PS_LibreAcces_Personne_activite_202112020908.txt` as
    /// published by ANS, or `ps-libreacces-personne-activite.txt` as mirrored on data.gouv.fr.
    pub fn from_file_name(name: &str) -> Option<FileKind> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let norm: String = base.to_ascii_lowercase().replace('-', "_");
        if !norm.ends_with(".txt") && !norm.ends_with(".csv") {
            return None;
        }
        if norm.starts_with("ps_libreacces_personne_activite") {
            Some(FileKind::PersonneActivite)
        } else if norm.starts_with("ps_libreacces_savoirfaire") {
            Some(FileKind::SavoirFaire)
        } else if norm.starts_with("ps_libreacces_dipl_autexerc") {
            Some(FileKind::DiplAutExerc)
        } else if norm.starts_with("extraction_prosanteconnect") {
            Some(FileKind::PscPersonneActivite)
        } else if norm.starts_with("porteurs_cps_cpf") {
            Some(FileKind::Cards)
        } else if norm.starts_with("extraction_correspondance_mssante") {
            Some(FileKind::Mailboxes)
        } else {
            None
        }
    }

    /// The columns this kind must have for its rows to be usable.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            FileKind::PersonneActivite | FileKind::PscPersonneActivite => {
                &[TYPE_ID, ID, IDNAT, PROFESSION, CATEGORY, NOM_EXERCICE, PRENOM_EXERCICE]
            }
            FileKind::SavoirFaire => &[TYPE_ID, ID, IDNAT, PROFESSION, SF_TYPE, SF],
            FileKind::DiplAutExerc => &[TYPE_ID, ID, IDNAT],
            // The card file's exact header is not confirmed (extract-format.md §7): the person's id and the card
            // number are enough; other columns are read when present, under the names of ALIASES.
            FileKind::Cards => &[ID, CARD_NUMBER],
            FileKind::Mailboxes => &[MB_TYPE, MB_ADDRESS],
        }
    }
}

/// The 12-digit timestamp (`YYYYMMDDhhmm`, Paris time) in a file name, when there is one.
///
/// ```
/// use annuaire_ingest::layout::file_timestamp;
/// assert_eq!(file_timestamp("PS_LibreAcces_Personne_activite_202112020908.txt").as_deref(), Some("202112020908"));
/// assert_eq!(file_timestamp("ps-libreacces-personne-activite.txt"), None);
/// ```
pub fn file_timestamp(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(11))
        .rev()
        .find(|&i| {
            bytes[i..i + 12].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 12).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| name[i..i + 12].to_string())
}

// Column names, exactly as in the real header (extract-format.md §3.1, §3.2, §4).
pub(crate) const TYPE_ID: &str = "Type d'identifiant PP";
pub(crate) const ID: &str = "Identifiant PP";
pub(crate) const IDNAT: &str = "Identification nationale PP";
pub(crate) const CIV_EX: &str = "Code civilité d'exercice";
pub(crate) const CIV_EX_L: &str = "Libellé civilité d'exercice";
pub(crate) const CIV: &str = "Code civilité";
pub(crate) const CIV_L: &str = "Libellé civilité";
pub(crate) const NOM_EXERCICE: &str = "Nom d'exercice";
pub(crate) const PRENOM_EXERCICE: &str = "Prénom d'exercice";
pub(crate) const PROFESSION: &str = "Code profession";
pub(crate) const PROFESSION_L: &str = "Libellé profession";
pub(crate) const CATEGORY: &str = "Code catégorie professionnelle";
pub(crate) const CATEGORY_L: &str = "Libellé catégorie professionnelle";
pub(crate) const SF_TYPE: &str = "Code type savoir-faire";
pub(crate) const SF_TYPE_L: &str = "Libellé type savoir-faire";
pub(crate) const SF: &str = "Code savoir-faire";
pub(crate) const SF_L: &str = "Libellé savoir-faire";
pub(crate) const MODE: &str = "Code mode exercice";
pub(crate) const MODE_L: &str = "Libellé mode exercice";
pub(crate) const SIRET: &str = "Numéro SIRET site";
pub(crate) const SIREN: &str = "Numéro SIREN site";
pub(crate) const FINESS: &str = "Numéro FINESS site";
pub(crate) const FINESS_EJ: &str = "Numéro FINESS établissement juridique";
pub(crate) const TECH_ID: &str = "Identifiant technique de la structure";
pub(crate) const RAISON_SOCIALE: &str = "Raison sociale site";
pub(crate) const ENSEIGNE: &str = "Enseigne commerciale site";
pub(crate) const COMPL_DEST: &str = "Complément destinataire (coord. structure)";
pub(crate) const COMPL_GEO: &str = "Complément point géographique (coord. structure)";
pub(crate) const NUM_VOIE: &str = "Numéro Voie (coord. structure)";
pub(crate) const INDICE_VOIE: &str = "Indice répétition voie (coord. structure)";
pub(crate) const TYPE_VOIE: &str = "Code type de voie (coord. structure)";
pub(crate) const TYPE_VOIE_L: &str = "Libellé type de voie (coord. structure)";
pub(crate) const VOIE: &str = "Libellé Voie (coord. structure)";
pub(crate) const DISTRIBUTION: &str = "Mention distribution (coord. structure)";
pub(crate) const CEDEX: &str = "Bureau cedex (coord. structure)";
pub(crate) const CODE_POSTAL: &str = "Code postal (coord. structure)";
pub(crate) const COMMUNE: &str = "Code commune (coord. structure)";
pub(crate) const COMMUNE_L: &str = "Libellé commune (coord. structure)";
pub(crate) const PAYS: &str = "Code pays (coord. structure)";
pub(crate) const PAYS_L: &str = "Libellé pays (coord. structure)";
pub(crate) const TEL: &str = "Téléphone (coord. structure)";
pub(crate) const TEL2: &str = "Téléphone 2 (coord. structure)";
pub(crate) const FAX: &str = "Télécopie (coord. structure)";
pub(crate) const EMAIL: &str = "Adresse e-mail (coord. structure)";
pub(crate) const DEPT: &str = "Code Département (structure)";
pub(crate) const DEPT_L: &str = "Libellé Département (structure)";
pub(crate) const OLD_ID: &str = "Ancien identifiant de la structure";
pub(crate) const AUTORITE: &str = "Autorité d'enregistrement";
pub(crate) const SECTEUR: &str = "Code secteur d'activité";
pub(crate) const SECTEUR_L: &str = "Libellé secteur d'activité";
pub(crate) const SECTION: &str = "Code section tableau pharmaciens";
pub(crate) const SECTION_L: &str = "Libellé section tableau pharmaciens";
pub(crate) const ROLE: &str = "Code rôle";
pub(crate) const ROLE_L: &str = "Libellé rôle";
pub(crate) const GENRE: &str = "Code genre activité";
pub(crate) const GENRE_L: &str = "Libellé genre activité";
pub(crate) const DIPL_TYPE: &str = "Code type diplôme obtenu";
pub(crate) const DIPL_TYPE_L: &str = "Libellé type diplôme obtenu";
pub(crate) const DIPL: &str = "Code diplôme obtenu";
pub(crate) const DIPL_L: &str = "Libellé diplôme obtenu";
pub(crate) const AUT_TYPE: &str = "Code type autorisation";
pub(crate) const AUT_TYPE_L: &str = "Libellé type autorisation";
pub(crate) const AUT_DISC: &str = "Code discipline autorisation";
pub(crate) const AUT_DISC_L: &str = "Libellé discipline autorisation";

// Extraction_ProSanteConnect_Personne_activite (§6): civil status and correspondence contacts.
pub(crate) const NOM_FAMILLE: &str = "Nom de famille";
pub(crate) const PRENOMS: &str = "Prénoms";
pub(crate) const BIRTH_DATE: &str = "Date de naissance";
pub(crate) const BIRTH_COMMUNE: &str = "Code commune de naissance";
pub(crate) const BIRTH_COUNTRY: &str = "Code pays de naissance";
pub(crate) const BIRTH_PLACE: &str = "Lieu de naissance";
pub(crate) const SEX: &str = "Code sexe";
pub(crate) const CORR_PHONE: &str = "Téléphone (coord. correspondance)";
pub(crate) const CORR_EMAIL: &str = "Adresse e-mail (coord. correspondance)";

// Porteurs_CPS_CPF (§7: inferred order; names from the data.gouv.fr mirror and the restricted DSFT).
pub(crate) const CARD_TYPE: &str = "Code type de carte";
pub(crate) const CARD_TYPE_L: &str = "Libellé type de carte";
pub(crate) const CARD_NUMBER: &str = "Numéro carte";
pub(crate) const CARD_EMBEDDED_ID: &str = "Identifiant national contenu dans la carte";
pub(crate) const CARD_FROM: &str = "Date début validité";
pub(crate) const CARD_TO: &str = "Date fin validité";
pub(crate) const CARD_OPPOSED: &str = "Date opposition";
pub(crate) const CARD_UPDATED: &str = "Date de mise à jour";
// Extraction_Correspondance_MSSante (§5).
pub(crate) const MB_TYPE: &str = "Type de BAL";
pub(crate) const MB_ADDRESS: &str = "Adresse BAL";
pub(crate) const MB_STRUCT_TYPE: &str = "Type identifiant structure";
pub(crate) const MB_STRUCT_ID: &str = "Identification Structure";
pub(crate) const MB_SERVICE: &str = "Service de rattachement";
pub(crate) const MB_STRUCT_NAME: &str = "Raison Sociale structure BAL";
pub(crate) const MB_DEMAT: &str = "Dématérialisation";

/// Other names a column is known under (matched after the exact and the case-insensitive name): the MSSanté file
/// writes `Type Identifiant PP`; the card file's header is not confirmed, so the variants seen in public code and
/// in the restricted DSFT are accepted.
const ALIASES: &[(&str, &[&str])] = &[
    (TYPE_ID, &["Type Identifiant PP", "Type identifiant PP"]),
    // The PSC file's names for columns of the public file.
    (DEPT, &["Code département (coord. structure)"]),
    (GENRE, &["Code genre d'activité", "Code genre activite"]),
    (CARD_TYPE, &["Type de carte", "Code type carte", "Type carte"]),
    (CARD_TYPE_L, &["Libellé type carte"]),
    (CARD_NUMBER, &["Numéro de carte", "Numero carte", "N° carte"]),
    (CARD_FROM, &["Date de début de validité", "Date debut validite", "Date début de validité"]),
    (CARD_TO, &["Date de fin de validité", "Date fin validite", "Date fin de validité"]),
    (CARD_OPPOSED, &["Date d'opposition", "Date opposition carte"]),
    (CARD_UPDATED, &["Date mise à jour", "Date de mise a jour"]),
];

/// A parsed header: column name → index, plus how many fields a line should have.
#[derive(Debug, Clone)]
pub struct Header {
    index: HashMap<String, usize>,
    /// Number of named columns (the empty field after a trailing `|` is not one).
    pub columns: usize,
    /// True when the header line ended with the separator.
    pub trailing_separator: bool,
    /// Names in file order.
    pub names: Vec<String>,
}

/// Why a header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The file is empty.
    Empty,
    /// Required columns are absent.
    Missing(Vec<String>),
}

impl Header {
    /// Parse a header line (BOM and CR already removed). Names are matched exactly, then
    /// case-insensitively (one known variant writes `Code département (structure)`).
    pub fn parse(line: &str, kind: FileKind) -> Result<Header, HeaderError> {
        if line.trim().is_empty() {
            return Err(HeaderError::Empty);
        }
        let mut names: Vec<String> = line.split('|').map(|s| s.trim().to_string()).collect();
        let trailing_separator = names.len() > 1 && names.last().is_some_and(String::is_empty);
        if trailing_separator {
            names.pop();
        }
        let mut index = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
            index.entry(n.to_lowercase()).or_insert(i);
        }
        for (canonical, others) in ALIASES {
            if !index.contains_key(*canonical)
                && !index.contains_key(&canonical.to_lowercase())
                && let Some(i) =
                    others.iter().find_map(|o| index.get(*o).or_else(|| index.get(&o.to_lowercase())).copied())
            {
                index.insert((*canonical).to_string(), i);
            }
        }
        let header = Header { index, columns: names.len(), trailing_separator, names };
        let missing: Vec<String> =
            kind.required().iter().filter(|c| header.get(c).is_none()).map(|c| (*c).to_string()).collect();
        if missing.is_empty() { Ok(header) } else { Err(HeaderError::Missing(missing)) }
    }

    /// Index of a column by name.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).or_else(|| self.index.get(&name.to_lowercase())).copied()
    }

    /// The 1-based column number and name of a field index, for error messages.
    pub fn describe(&self, index: usize) -> String {
        match self.names.get(index) {
            Some(n) => format!("column {} ({n})", index + 1),
            None => format!("column {}", index + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H52: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|Numéro FINESS établissement juridique|Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|Mention distribution (coord. structure)|Bureau cedex (coord. structure)|Code postal (coord. structure)|Code commune (coord. structure)|Libellé commune (coord. structure)|Code pays (coord. structure)|Libellé pays (coord. structure)|Téléphone (coord. structure)|Téléphone 2 (coord. structure)|Télécopie (coord. structure)|Adresse e-mail (coord. structure)|Code Département (structure)|Libellé Département (structure)|Ancien identifiant de la structure|Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|Code section tableau pharmaciens|Libellé section tableau pharmaciens|";

    #[test]
    fn the_real_52_column_header_maps_every_known_column() {
        let h = Header::parse(H52, FileKind::PersonneActivite).expect("header");
        assert_eq!(h.columns, 52);
        assert!(h.trailing_separator);
        assert_eq!(h.get(IDNAT), Some(2));
        assert_eq!(h.get(AUTORITE), Some(47));
        assert_eq!(h.get(ROLE), None);
        for c in
            [MODE, SIRET, FINESS_EJ, TECH_ID, VOIE, CODE_POSTAL, COMMUNE, PAYS, EMAIL, DEPT, OLD_ID, SECTEUR, SECTION]
        {
            assert!(h.get(c).is_some(), "{c}");
        }
    }

    #[test]
    fn the_56_column_header_adds_role_and_genre() {
        let h56 = format!("{H52}Code rôle|Libellé rôle|Code genre activité|Libellé genre activité|");
        let h = Header::parse(&h56, FileKind::PersonneActivite).expect("header");
        assert_eq!(h.columns, 56);
        assert_eq!(h.get(ROLE), Some(52));
        assert_eq!(h.get(GENRE_L), Some(55));
    }

    #[test]
    fn a_header_without_the_id_columns_is_unusable() {
        let err = Header::parse("Nom|Prénom|", FileKind::PersonneActivite).unwrap_err();
        assert!(matches!(err, HeaderError::Missing(m) if m.contains(&IDNAT.to_string())));
        assert_eq!(Header::parse("", FileKind::SavoirFaire).unwrap_err(), HeaderError::Empty);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            FileKind::from_file_name("PS_LibreAcces_Personne_activite_202112020908.txt"),
            Some(FileKind::PersonneActivite)
        );
        assert_eq!(FileKind::from_file_name("x/ps-libreacces-savoirfaire.txt"), Some(FileKind::SavoirFaire));
        assert_eq!(
            FileKind::from_file_name("PS_LibreAcces_Dipl_AutExerc_202112020908.txt"),
            Some(FileKind::DiplAutExerc)
        );
        assert_eq!(FileKind::from_file_name("README.md"), None);
    }
}
