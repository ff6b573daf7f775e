//! Synthetic extracts in the exact PS_LibreAcces format (`|`, trailing `|`, UTF-8, LF, real headers).
//!
//! [`sample`] builds the small extract committed under `data-samples/PS_LibreAcces/`: a few hundred
//! persons with every quirk of extract-format.md §2–§3, plus the persons equivalent to ANS's UserInfo
//! examples used by the claims golden tests. [`national`] streams a national-size one (about 1.7 million
//! persons, 2.1 million lines) for benchmarks. Everything is deterministic: same arguments, same bytes.

mod handmade;
mod tables;

pub use handmade::handmade;
use tables::*;

use std::io::Write;

/// The real 56-column header of PS_LibreAcces_Personne_activite (extract-format.md §3.2).
pub const HEADER_56: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|Numéro FINESS établissement juridique|Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|Mention distribution (coord. structure)|Bureau cedex (coord. structure)|Code postal (coord. structure)|Code commune (coord. structure)|Libellé commune (coord. structure)|Code pays (coord. structure)|Libellé pays (coord. structure)|Téléphone (coord. structure)|Téléphone 2 (coord. structure)|Télécopie (coord. structure)|Adresse e-mail (coord. structure)|Code Département (structure)|Libellé Département (structure)|Ancien identifiant de la structure|Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|Code section tableau pharmaciens|Libellé section tableau pharmaciens|Code rôle|Libellé rôle|Code genre activité|Libellé genre activité|";

/// The SavoirFaire header (extract-format.md §4.1).
pub const HEADER_SAVOIR_FAIRE: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|";

/// The Dipl_AutExerc header (extract-format.md §4.2).
pub const HEADER_DIPLOMES: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Nom d'exercice|Prénom d'exercice|Code type diplôme obtenu|Libellé type diplôme obtenu|Code diplôme obtenu|Libellé diplôme obtenu|Code type autorisation|Libellé type autorisation|Code discipline autorisation|Libellé discipline autorisation|";

/// The timestamp used in the sample's file names.
pub const SAMPLE_TIMESTAMP: &str = "202611280900";

/// The three files of an extract, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractFiles {
    /// PS_LibreAcces_Personne_activite.
    pub personne_activite: String,
    /// PS_LibreAcces_SavoirFaire.
    pub savoir_faire: String,
    /// PS_LibreAcces_Dipl_AutExerc.
    pub diplomes: String,
}

impl ExtractFiles {
    /// The file names ANS uses, with a timestamp.
    pub fn names(timestamp: &str) -> [String; 3] {
        [
            format!("PS_LibreAcces_Personne_activite_{timestamp}.txt"),
            format!("PS_LibreAcces_SavoirFaire_{timestamp}.txt"),
            format!("PS_LibreAcces_Dipl_AutExerc_{timestamp}.txt"),
        ]
    }

    /// Write the three files into a folder.
    pub fn write_dir(&self, dir: &std::path::Path, timestamp: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let [a, b, c] = Self::names(timestamp);
        std::fs::write(dir.join(a), &self.personne_activite)?;
        std::fs::write(dir.join(b), &self.savoir_faire)?;
        std::fs::write(dir.join(c), &self.diplomes)
    }

    /// Write a zip as ANS publishes it (`PS_LibreAcces_<ts>.zip`, members in alphabetical order).
    pub fn write_zip(&self, path: &std::path::Path, timestamp: &str) -> anyhow::Result<()> {
        let file = std::fs::File::create(path)?;
        let mut zip = ::zip::ZipWriter::new(std::io::BufWriter::new(file));
        let opts = ::zip::write::SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Deflated);
        let [a, b, c] = Self::names(timestamp);
        for (name, body) in [(c, &self.diplomes), (a, &self.personne_activite), (b, &self.savoir_faire)] {
            zip.start_file(name, opts)?;
            zip.write_all(body.as_bytes())?;
        }
        zip.finish()?.flush()?;
        Ok(())
    }

    /// The same extract in the 52-column layout of December 2021 (without role and genre).
    pub fn to_52_columns(&self) -> ExtractFiles {
        let pa = self
            .personne_activite
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split('|').collect();
                let kept = &fields[..fields.len().saturating_sub(5).max(1)];
                format!("{}|\n", kept.join("|"))
            })
            .collect();
        ExtractFiles { personne_activite: pa, ..self.clone() }
    }
}

/// A small deterministic generator (splitmix64): no external randomness, same output everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// One element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Append a Luhn check digit to a string of digits.
pub fn with_luhn(body: &str) -> String {
    for d in 0..10 {
        let candidate = format!("{body}{d}");
        let sum: u32 = candidate
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, c)| {
                let v = u32::from(c - b'0');
                if i % 2 == 1 { if v * 2 > 9 { v * 2 - 9 } else { v * 2 } } else { v }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return candidate;
        }
    }
    format!("{body}0")
}

/// One line of Personne_activite, by field (56 fields, the trailing `|` added on output).
#[derive(Debug, Clone)]
pub struct Line(pub Vec<String>);

impl Line {
    fn new() -> Line {
        Line(vec![String::new(); 56])
    }

    fn set(&mut self, i: usize, v: &str) -> &mut Line {
        self.0[i] = v.to_string();
        self
    }

    /// The line with its trailing `|` and LF.
    pub fn render(&self) -> String {
        format!("{}|\n", self.0.join("|"))
    }
}

/// A person to write: identity, exercice and its savoir-faire and activities.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `8` or `0`.
    pub id_type: &'static str,
    /// RPPS or ADELI number.
    pub id: String,
    /// (code, label) civilité.
    pub civilite: (&'static str, &'static str),
    /// Exercices.
    pub exercices: Vec<ExSpec>,
}

/// An exercice to write.
#[derive(Debug, Clone)]
pub struct ExSpec {
    /// (code, label).
    pub profession: (&'static str, &'static str),
    /// (code, label) category: `C` Civil, `M` Militaire ...
    pub category: (&'static str, &'static str),
    /// `DR` or empty.
    pub civ_ex: (&'static str, &'static str),
    /// Nom d'exercice.
    pub family: String,
    /// Prénom d'exercice.
    pub given: String,
    /// (type code, type label, code, label).
    pub savoir_faire: Vec<(&'static str, &'static str, String, String)>,
    /// Activity fields: index → value (fields 17..56 of the line), one map per activity.
    pub activities: Vec<Vec<(usize, String)>>,
    /// Autorité d'enregistrement when there is no activity.
    pub authority_no_activity: String,
}

impl Spec {
    /// The Personne_activite lines: savoir-faire x activities (at least one line).
    pub fn lines(&self) -> Vec<Line> {
        let mut out = Vec::new();
        for ex in &self.exercices {
            let sfs: Vec<Option<&(&str, &str, String, String)>> =
                if ex.savoir_faire.is_empty() { vec![None] } else { ex.savoir_faire.iter().map(Some).collect() };
            let acts: Vec<Option<&Vec<(usize, String)>>> =
                if ex.activities.is_empty() { vec![None] } else { ex.activities.iter().map(Some).collect() };
            for sf in &sfs {
                for act in &acts {
                    let mut l = Line::new();
                    l.set(0, self.id_type).set(1, &self.id).set(2, &format!("{}{}", self.id_type, self.id));
                    l.set(3, ex.civ_ex.0).set(4, ex.civ_ex.1).set(5, self.civilite.0).set(6, self.civilite.1);
                    l.set(7, &ex.family).set(8, &ex.given).set(9, ex.profession.0).set(10, ex.profession.1);
                    l.set(11, ex.category.0).set(12, ex.category.1);
                    if let Some((t, tl, c, cl)) = sf {
                        l.set(13, t).set(14, tl).set(15, c).set(16, cl);
                    }
                    match act {
                        Some(fields) => {
                            for (i, v) in fields.iter() {
                                l.set(*i, v);
                            }
                        }
                        None => {
                            l.set(47, &ex.authority_no_activity);
                        }
                    }
                    out.push(l);
                }
            }
        }
        out
    }

    /// The SavoirFaire lines.
    pub fn savoir_faire_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for ex in &self.exercices {
            for (t, tl, c, cl) in &ex.savoir_faire {
                out.push(format!(
                    "{}|{}|{}{}|{}|{}|{}|{}|{}|{}|{t}|{tl}|{c}|{cl}|\n",
                    self.id_type,
                    self.id,
                    self.id_type,
                    self.id,
                    ex.family,
                    ex.given,
                    ex.profession.0,
                    ex.profession.1,
                    ex.category.0,
                    ex.category.1
                ));
            }
        }
        out
    }

    /// The Dipl_AutExerc lines (one State diploma per exercice).
    pub fn diploma_lines(&self) -> Vec<String> {
        self.exercices
            .iter()
            .map(|ex| {
                format!(
                    "{}|{}|{}{}|{}|{}|DE|Diplôme d'Etat français |DE{}|Diplôme d'Etat de {}||||||\n",
                    self.id_type, self.id, self.id_type, self.id, ex.family, ex.given, ex.profession.0, ex.profession.1
                )
            })
            .collect()
    }
}

/// Fields of an activity at a cabinet or an establishment.
fn activity(rng: &mut Rng, liberal: bool, authority: &str, profession: &str, serial: u64) -> Vec<(usize, String)> {
    let (commune, commune_l, cp) = *rng.pick(COMMUNES);
    let (tv, tvl, voie) = *rng.pick(STREETS);
    let mut f: Vec<(usize, String)> = Vec::new();
    let mut put = |i: usize, v: &str| f.push((i, v.to_string()));
    let num = (rng.below(150) + 1).to_string();
    if liberal {
        put(17, "L");
        put(18, "Libéral");
        let tech = format!("R{:014}", 10_100_000_000_000 + serial);
        put(23, &tech);
        put(24, &format!("CABINET {}", serial % 9000));
        let sector = if rng.chance(70) { ("SA07", "Cabinet individuel") } else { ("SA08", "Cabinet de groupe") };
        put(48, sector.0);
        put(49, sector.1);
        put(46, &format!("4{:014}", 10_000_000_000_000 + serial));
        put(47, &format!("{authority}/{authority}/{authority}"));
        put(52, if rng.chance(50) { "FON-01" } else { "FON-AU" });
        put(53, "");
    } else {
        put(17, "S");
        put(18, "Salarié");
        let finess = with_luhn(&format!("{}{:06}", &cp[..2].replace(['A', 'B'], "0"), serial % 1_000_000));
        put(21, &finess);
        put(22, &with_luhn(&format!("{}{:06}", &cp[..2].replace(['A', 'B'], "0"), (serial * 7) % 1_000_000)));
        put(23, &format!("F{finess}"));
        put(24, &format!("CENTRE HOSPITALIER {}", commune_l.to_uppercase()));
        put(46, &format!("1{finess}"));
        put(47, &format!("{authority}/{authority}/ARS"));
        let sector =
            if rng.chance(60) { ("SA01", "Etablissement Public de santé") } else { ("SA04", "Etab. Privé Non PSPH") };
        put(48, sector.0);
        put(49, sector.1);
        put(52, "FON-AU");
        put(36, commune);
        put(37, commune_l);
        put(40, &format!("04{:08}", serial % 100_000_000));
    }
    put(28, &num);
    put(30, tv);
    put(31, tvl);
    put(32, voie);
    put(34, &format!("{cp} {}", commune_l.to_uppercase()));
    put(35, cp);
    put(54, "GENR01");
    put(55, "Activité de soin et de pharmacie");
    if profession == "21" && !liberal {
        put(50, "H");
        put(51, "Pharmacien d'établissement de santé");
    }
    f
}

/// Pick a profession following the national mix.
fn profession(rng: &mut Rng) -> (&'static str, &'static str, &'static str) {
    let total: u64 = PROFESSIONS.iter().map(|p| p.3).sum();
    let mut x = rng.below(total);
    for &(c, l, a, w) in PROFESSIONS {
        if x < w {
            return (c, l, a);
        }
        x -= w;
    }
    ("60", "Infirmier", "ONI")
}

/// A synthetic person number `n` (RPPS for most, ADELI for about 5 %).
pub fn synthetic(rng: &mut Rng, n: u64) -> Spec {
    let (code, label, authority) = profession(rng);
    let adeli = authority == "ARS" && rng.chance(15);
    let (id_type, id) = if adeli {
        let dept = 1 + n % 95;
        ("0", with_luhn(&format!("{dept:02}{}{:04}", &code[..2], n % 10_000)))
    } else {
        ("8", with_luhn(&format!("10{:08}", 10_000_000 + n)))
    };
    let female = rng.chance(if code == "60" || code == "50" { 85 } else { 55 });
    let civilite = if female { ("MME", "Madame") } else { ("M", "Monsieur") };
    let family = rng.pick(FAMILY).to_string();
    let given = rng.pick(GIVEN).to_string();
    let mut savoir_faire = Vec::new();
    if code == "10" {
        let (c, l) = *rng.pick(&[
            ("SM53", "Spécialiste en Médecine Générale"),
            ("SM54", "Médecine générale"),
            ("SM04", "Cardiologie et Maladies vasculaires"),
            ("SM20", "Gynécologie-obstétrique"),
            ("SM42", "Psychiatrie"),
            ("SM40", "Pédiatrie"),
            ("SM02", "Anesthésie-réanimation"),
        ]);
        savoir_faire.push(("S", "Spécialité ordinale", c.to_string(), l.to_string()));
        if rng.chance(8) {
            savoir_faire.push(("CAPA", "Capacité", "CAPA13".to_string(), "Médecine du sport".to_string()));
        }
    }
    let n_act = match rng.below(100) {
        0..=6 => 0,
        7..=86 => 1,
        87..=96 => 2,
        _ => 3,
    };
    let activities = (0..n_act)
        .map(|k| {
            let liberal = rng.chance(60);
            activity(rng, liberal, authority, code, n * 4 + k)
        })
        .collect();
    let authority_no_activity = if authority == "ARS" { "ARS//".to_string() } else { format!("{authority}//") };
    Spec {
        id_type,
        id,
        civilite,
        exercices: vec![ExSpec {
            profession: (code, label),
            category: ("C", "Civil"),
            civ_ex: if code == "10" || code == "40" { ("DR", "Docteur") } else { ("", "") },
            family,
            given,
            savoir_faire,
            activities,
            authority_no_activity,
        }],
    }
}

fn act(fields: &[(usize, &str)]) -> Vec<(usize, String)> {
    fields.iter().map(|(i, v)| (*i, (*v).to_string())).collect()
}

/// The committed sample: the handmade persons, then `n` synthetic ones, with a few exact duplicate lines.
pub fn sample(n: u64) -> ExtractFiles {
    let mut rng = Rng::new(20_261_128);
    let mut specs = handmade();
    specs.extend((0..n).map(|i| synthetic(&mut rng, i)));
    let mut files = ExtractFiles {
        personne_activite: format!("{HEADER_56}\n"),
        savoir_faire: format!("{HEADER_SAVOIR_FAIRE}\n"),
        diplomes: format!("{HEADER_DIPLOMES}\n"),
    };
    for (k, s) in specs.iter().enumerate() {
        let lines = s.lines();
        for l in &lines {
            files.personne_activite.push_str(&l.render());
        }
        // Exact duplicate lines exist in the real file: repeat one line of every 40th person.
        if k % 40 == 3
            && let Some(l) = lines.first()
        {
            files.personne_activite.push_str(&l.render());
        }
        for l in s.savoir_faire_lines() {
            files.savoir_faire.push_str(&l);
        }
        for l in s.diploma_lines() {
            files.diplomes.push_str(&l);
        }
    }
    files
}

/// Stream a national-size extract (`persons` synthetic persons) into `out` as Personne_activite lines,
/// with the savoir-faire and diploma lines into the two other writers. Returns the number of lines.
pub fn national(
    persons: u64,
    seed: u64,
    pa: &mut dyn Write,
    sf: &mut dyn Write,
    dipl: &mut dyn Write,
) -> std::io::Result<u64> {
    national_changed(persons, seed, 0, pa, sf, dipl)
}

/// Like [`national`], with `change_permille` ‰ of the persons (chosen by their number, the same ones for
/// the same arguments) given another exercise name: the next night's extract of a benchmark re-sync.
pub fn national_changed(
    persons: u64,
    seed: u64,
    change_permille: u64,
    pa: &mut dyn Write,
    sf: &mut dyn Write,
    dipl: &mut dyn Write,
) -> std::io::Result<u64> {
    let mut rng = Rng::new(seed);
    writeln!(pa, "{HEADER_56}")?;
    writeln!(sf, "{HEADER_SAVOIR_FAIRE}")?;
    writeln!(dipl, "{HEADER_DIPLOMES}")?;
    let mut lines = 0;
    for n in 0..persons {
        let mut s = synthetic(&mut rng, n);
        if change_permille > 0 && Rng::new(n ^ 0x5EED).below(1000) < change_permille {
            for ex in &mut s.exercices {
                ex.family.push_str("-MODIFIÉ");
            }
        }
        for l in s.lines() {
            pa.write_all(l.render().as_bytes())?;
            lines += 1;
        }
        for l in s.savoir_faire_lines() {
            sf.write_all(l.as_bytes())?;
        }
        for l in s.diploma_lines() {
            dipl.write_all(l.as_bytes())?;
        }
    }
    Ok(lines)
}

/// Write a national-size zip as ANS publishes it (three members), streaming: the generator runs once per
/// member with the same seed, so the files agree. Returns the number of Personne_activite lines.
pub fn write_national_zip(
    path: &std::path::Path,
    persons: u64,
    seed: u64,
    change_permille: u64,
) -> anyhow::Result<u64> {
    use std::io::sink;
    let file = std::fs::File::create(path)?;
    let mut zw = ::zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated)
        .large_file(true);
    let [pa, sf, dipl] = ExtractFiles::names("202611280900");
    zw.start_file(dipl, opts)?;
    national_changed(persons, seed, change_permille, &mut sink(), &mut sink(), &mut zw)?;
    zw.start_file(pa, opts)?;
    let lines = national_changed(persons, seed, change_permille, &mut zw, &mut sink(), &mut sink())?;
    zw.start_file(sf, opts)?;
    national_changed(persons, seed, change_permille, &mut sink(), &mut zw, &mut sink())?;
    zw.finish()?.flush()?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_has_56_fields_and_a_trailing_separator() {
        let s = sample(50);
        for l in s.personne_activite.lines() {
            assert_eq!(l.split('|').count(), 57, "{l}");
            assert!(l.ends_with('|'));
        }
        for l in s.to_52_columns().personne_activite.lines() {
            assert_eq!(l.split('|').count(), 53, "{l}");
        }
    }

    #[test]
    fn the_generator_is_deterministic() {
        assert_eq!(sample(30), sample(30));
    }

    #[test]
    fn luhn_helper() {
        assert_eq!(with_luhn("1010027138"), "10100271385");
    }
}
