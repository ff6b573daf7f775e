//! The persons written by hand: ANS's UserInfo examples made into rows, and each quirk of the format
//! (extract-format.md §2–§3).

use crate::{ExSpec, Spec, act};

/// The persons written by hand: ANS's UserInfo examples made into rows, and each quirk of the format.
pub fn handmade() -> Vec<Spec> {
    let ex =
        |p: (&'static str, &'static str), civ_ex: (&'static str, &'static str), family: &str, given: &str| ExSpec {
            profession: p,
            category: ("C", "Civil"),
            civ_ex,
            family: family.into(),
            given: given.into(),
            savoir_faire: vec![],
            activities: vec![],
            authority_no_activity: String::new(),
        };
    let mut out = Vec::new();
    // ANS example (b) (psc-claims-and-loaders.md §1.5): a doctor with a specialty and two activities.
    let mut doc = ex(("10", "Médecin"), ("DR", "Docteur"), "DOC0036624", "KIT");
    doc.savoir_faire.push(("S", "Spécialité ordinale", "SM26".into(), "Qualifié en Médecine Générale".into()));
    doc.activities.push(act(&[
        (17, "L"),
        (18, "Libéral"),
        (23, "R95141"),
        (24, "CABINET M DOC0036624"),
        (26, "CABINET M DOC"),
        (28, "1"),
        (30, "R"),
        (31, "Rue"),
        (32, "NOIR"),
        (34, "75009 PARIS"),
        (35, "75009"),
        (38, "99000"),
        (39, "France"),
        (46, "499700366240007"),
        (47, "CNOM/CNOM/CNOM"),
        (48, "SA07"),
        (49, "Cabinet individuel"),
    ]));
    doc.activities.push(act(&[
        (17, "S"),
        (18, "Salarié"),
        (21, "0B0172805"),
        (22, "1B0062023"),
        (23, "F0B0172805"),
        (24, "HOPITAL GENERIQUE  FIN VARI"),
        (46, "10B0172805"),
        (47, "CNOM/CNOM/ARS"),
        (48, "SA01"),
        (49, "Etablissement Public de santé"),
    ]));
    out.push(Spec { id_type: "8", id: "99700366240".into(), civilite: ("M", "Monsieur"), exercices: vec![doc] });
    // ANS example (c) (2023 claims shape): a pédicure-podologue with one liberal activity, genre GENR01.
    let mut podo = ex(("80", "Pédicure-Podologue"), ("", ""), "Grominoch", "Fistinien");
    podo.activities.push(act(&[
        (17, "L"),
        (18, "Libéral"),
        (23, "R81311"),
        (24, "CABINET INDIVIDUEL PEDI PODO0023704"),
        (26, "CABINET INDIVIDUEL PEDI PODO"),
        (28, "2"),
        (30, "R"),
        (31, "Rue"),
        (32, "DE LA CHAUSSURE"),
        (34, "75015 PARIS"),
        (35, "75015"),
        (38, "99000"),
        (39, "France"),
        (46, "499700237045007"),
        (47, "CNOPP/CNOPP/CNOPP"),
        (48, "SA07"),
        (49, "Cabinet individuel"),
        (54, "GENR01"),
        (55, "Activité de soin et de pharmacie"),
    ]));
    out.push(Spec { id_type: "8", id: "10000237041".into(), civilite: ("M", "Monsieur"), exercices: vec![podo] });
    // A doctor with two activities, a specialty and a competence: 2 savoir-faire x 2 activities = 4 lines.
    let mut lefevre = ex(("10", "Médecin"), ("DR", "Docteur"), "LEFÈVRE", "Étienne");
    lefevre.savoir_faire.push((
        "S",
        "Spécialité ordinale",
        "SM04".into(),
        "Cardiologie et Maladies vasculaires".into(),
    ));
    lefevre.savoir_faire.push(("CEX", "Compétence exclusive", "CEX05".into(), "Médecine du sport".into()));
    lefevre.activities.push(act(&[
        (17, "S"),
        (18, "Salarié"),
        (19, "26250462400012"),
        (21, "250000700"),
        (22, "250000452"),
        (23, "F250000700"),
        (24, "CHI HC SITE RIVES DU DOUBS PONTARLIER"),
        (28, "2"),
        (30, "FG"),
        (31, "Faubourg"),
        (32, "SAINT ETIENNE"),
        (33, "CS 10329"),
        (34, "25304 PONTARLIER CEDEX"),
        (35, "25304"),
        (36, "25462"),
        (37, "Pontarlier"),
        (40, "0381385454"),
        (42, "0381385480"),
        (43, "contact@chi-hautecomte.fr"),
        (46, "1250000700"),
        (47, "CNOM/CNOM/ARS"),
        (48, "SA01"),
        (49, "Etablissement Public de santé"),
        (52, "FON-35"),
        (53, "Chef de service"),
        (54, "GENR01"),
        (55, "Activité de soin et de pharmacie"),
    ]));
    lefevre.activities.push(act(&[
        (17, "L"),
        (18, "Libéral"),
        (23, "R10100000328372"),
        (24, "CABINET DU DR LEFÈVRE"),
        (25, "CABINET \"LES TILLEULS\""),
        (28, "12"),
        (29, "B"),
        (30, "R"),
        (31, "Rue"),
        (32, "DE L'ÉGLISE"),
        (34, "25300 PONTARLIER"),
        (35, "25300"),
        (36, "25462"),
        (37, "Pontarlier"),
        (40, "0381000000"),
        (46, "410100003283720"),
        (47, "CNOM/CNOM/CNOM"),
        (48, "SA07"),
        (49, "Cabinet individuel"),
        (52, "FON-01"),
        (53, "Titulaire de cabinet"),
        (54, "GENR01"),
        (55, "Activité de soin et de pharmacie"),
    ]));
    out.push(Spec { id_type: "8", id: "10100271385".into(), civilite: ("M", "Monsieur"), exercices: vec![lefevre] });
    // A doctor practising in the United Kingdom (foreign address: postal code `GL`, country 99132).
    let mut uk = ex(("10", "Médecin"), ("DR", "Docteur"), "O'NEILL", "Siobhan");
    uk.savoir_faire.push(("S", "Spécialité ordinale", "SM42".into(), "Psychiatrie".into()));
    uk.activities.push(act(&[
        (17, "S"),
        (18, "Salarié"),
        (23, "R10000000987654"),
        (24, "CHELTENHAM GENERAL HOSPITAL"),
        (32, "SANDFORD ROAD"),
        (34, "GL 5O 2QJ CHELTENHAM"),
        (35, "GL"),
        (38, "99132"),
        (39, "Royaume-uni"),
        (47, "CNOM/CNOM/CNOM"),
        (48, "SA43"),
        (49, "Secteur non défini"),
    ]));
    out.push(Spec { id_type: "8", id: "10001045367".into(), civilite: ("MME", "Madame"), exercices: vec![uk] });
    // ADELI professionals without activity (`ARS//`) and with an empty authority (a real 2021 line has one).
    let mut nobody = ex(("72", "Psychothérapeute"), ("", ""), "BOUILLOT", "Céline");
    nobody.authority_no_activity = "ARS//".into();
    out.push(Spec { id_type: "0", id: "010004851".into(), civilite: ("MME", "Madame"), exercices: vec![nobody] });
    let mut empty_auth = ex(("86", "Technicien de laboratoire médical"), ("", ""), "CLERC", "Martine");
    empty_auth.activities.push(act(&[(17, "S"), (18, "Salarié")]));
    out.push(Spec { id_type: "0", id: "018600064".into(), civilite: ("MME", "Madame"), exercices: vec![empty_auth] });
    // A nurse registered by the ONI, without activity, and an infirmière with a name holding a quote.
    let mut nurse = ex(("60", "Infirmier"), ("", ""), "D'ARTAGNAN", "Zoé");
    nurse.authority_no_activity = "ONI//".into();
    out.push(Spec {
        id_type: "8",
        id: "10006122583".into(),
        civilite: ("MLLE", "Mademoiselle"),
        exercices: vec![nurse],
    });
    // An opticien salaried at a SIRET employer (ADELI, `ARS/Variable/Variable`).
    let mut opt = ex(("28", "Opticien-Lunetier"), ("", ""), "PITHOUD", "PATRICK");
    opt.activities.push(act(&[
        (17, "S"),
        (18, "Salarié"),
        (19, "41129997700065"),
        (23, "C41129997700065"),
        (24, "BUGEY OPTIQUE"),
        (26, "BUGEY OPTIQUE"),
        (28, "5"),
        (32, "GRANDE RUE"),
        (34, "01300 BELLEY"),
        (35, "01300"),
        (46, "341129997700065"),
        (47, "ARS/Variable/Variable"),
        (48, "SA42"),
        (49, "Appareillage médical"),
    ]));
    out.push(Spec { id_type: "0", id: "012800751".into(), civilite: ("M", "Monsieur"), exercices: vec![opt] });
    // A pharmacist with two exercices (civil and military) and a pharmacist section.
    let mut ph1 = ex(("21", "Pharmacien"), ("", ""), "GUÉRIN", "Noémie");
    ph1.activities.push(act(&[
        (17, "L"),
        (18, "Libéral"),
        (19, "80291234500017"),
        (23, "C80291234500017"),
        (24, "PHARMACIE DU MARCHÉ"),
        (28, "3"),
        (30, "PL"),
        (31, "Place"),
        (32, "DU MARCHÉ"),
        (34, "63000 CLERMONT-FERRAND"),
        (35, "63000"),
        (36, "63113"),
        (37, "Clermont-Ferrand"),
        (46, "380291234500017"),
        (47, "CNOP/CNOP/CNOP"),
        (48, "SA33"),
        (49, "Pharmacie d'officine"),
        (50, "A"),
        (51, "Pharmacien titulaire d'officine"),
        (52, "FON-03"),
        (53, "Titulaire d'officine"),
        (54, "GENR01"),
        (55, "Activité de soin et de pharmacie"),
    ]));
    let mut ph2 = ex(("21", "Pharmacien"), ("PC", "Pharmacien chef"), "GUÉRIN", "Noémie");
    ph2.activities.push(act(&[
        (17, "S"),
        (18, "Salarié"),
        (23, "R10000000555555"),
        (24, "HIA DESGENETTES"),
        (34, "69003 LYON"),
        (35, "69003"),
        (36, "69383"),
        (37, "Lyon 3e Arrondissement"),
        (47, "SSA/SSA/SSA"),
        (48, "SA02"),
        (49, "Hôpital militaire du Service de santé des armées"),
        (50, "M"),
        (51, "Pharmacien militaire"),
    ]));
    ph2.category = ("M", "Militaire");
    out.push(Spec { id_type: "8", id: "10005831911".into(), civilite: ("MME", "Madame"), exercices: vec![ph1, ph2] });
    // A kiné in Corsica (commune 2A…) and an ostéopathe with a mode but no structure.
    let mut kine = ex(("70", "Masseur-Kinésithérapeute"), ("", ""), "HIRE", "BRICE");
    kine.activities.push(act(&[
        (17, "L"),
        (18, "Libéral"),
        (23, "R10100000240453"),
        (24, "ROULEAU ANGELE"),
        (25, "Cabinet individuel"),
        (26, "CABINET DE KINESITHERAPIE"),
        (30, "PLN"),
        (31, "Plaine"),
        (32, "DE SAN JUVAN"),
        (33, "LIEU-DIT CORATO"),
        (34, "20117 ECCICA SUARELLA"),
        (35, "20117"),
        (36, "2A104"),
        (37, "Eccica-Suarella"),
        (38, "99000"),
        (39, "France"),
        (41, "0678980325"),
        (43, "rouleau@example.fr"),
        (46, "410005929293016"),
        (47, "CNOMK/CNOMK/CNOMK"),
        (48, "SA07"),
        (49, "Cabinet individuel"),
    ]));
    out.push(Spec { id_type: "8", id: "10000013994".into(), civilite: ("M", "Monsieur"), exercices: vec![kine] });
    let mut osteo = ex(("71", "Ostéopathe"), ("", ""), "JOLY", "Odilon");
    osteo.activities.push(act(&[(17, "L"), (18, "Libéral"), (47, "ARS/CPAM/CPAM")]));
    out.push(Spec { id_type: "0", id: "010001949".into(), civilite: ("M", "Monsieur"), exercices: vec![osteo] });
    out
}
