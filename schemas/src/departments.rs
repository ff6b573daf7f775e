//! The departments of France (96 in metropolitan France, Corsica as 2A and 2B, and the five overseas ones), with
//! their names and a place on a tile grid: one square per department, near where it lies (computed once from each
//! department's approximate centre, then nudged so that no two share a square; the overseas departments in a row
//! below). The analysts' page draws its map of France from it, `annuaire stats --by department --chart` too; no
//! geographic data is needed.

/// A department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Department {
    /// INSEE code (`01`…`95`, `2A`, `2B`, `971`…`976`).
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Row on the tile grid (0 at the top).
    pub row: u8,
    /// Column on the tile grid (0 on the left).
    pub col: u8,
}

/// Every department, by code.
pub const DEPARTMENTS: &[Department] = &[
    Department { code: "01", name: "Ain", row: 8, col: 10 },
    Department { code: "02", name: "Aisne", row: 2, col: 8 },
    Department { code: "03", name: "Allier", row: 8, col: 8 },
    Department { code: "04", name: "Alpes-de-Haute-Provence", row: 11, col: 11 },
    Department { code: "05", name: "Hautes-Alpes", row: 10, col: 11 },
    Department { code: "06", name: "Alpes-Maritimes", row: 11, col: 12 },
    Department { code: "07", name: "Ardèche", row: 10, col: 9 },
    Department { code: "08", name: "Ardennes", row: 2, col: 9 },
    Department { code: "09", name: "Ariège", row: 13, col: 6 },
    Department { code: "10", name: "Aube", row: 5, col: 9 },
    Department { code: "11", name: "Aude", row: 12, col: 7 },
    Department { code: "12", name: "Aveyron", row: 10, col: 7 },
    Department { code: "13", name: "Bouches-du-Rhône", row: 12, col: 10 },
    Department { code: "14", name: "Calvados", row: 3, col: 4 },
    Department { code: "15", name: "Cantal", row: 9, col: 7 },
    Department { code: "16", name: "Charente", row: 8, col: 5 },
    Department { code: "17", name: "Charente-Maritime", row: 8, col: 4 },
    Department { code: "18", name: "Cher", row: 7, col: 7 },
    Department { code: "19", name: "Corrèze", row: 9, col: 6 },
    Department { code: "2A", name: "Corse-du-Sud", row: 14, col: 14 },
    Department { code: "2B", name: "Haute-Corse", row: 13, col: 14 },
    Department { code: "21", name: "Côte-d'Or", row: 6, col: 9 },
    Department { code: "22", name: "Côtes-d'Armor", row: 4, col: 2 },
    Department { code: "23", name: "Creuse", row: 8, col: 7 },
    Department { code: "24", name: "Dordogne", row: 9, col: 5 },
    Department { code: "25", name: "Doubs", row: 7, col: 11 },
    Department { code: "26", name: "Drôme", row: 10, col: 10 },
    Department { code: "27", name: "Eure", row: 3, col: 5 },
    Department { code: "28", name: "Eure-et-Loir", row: 5, col: 6 },
    Department { code: "29", name: "Finistère", row: 4, col: 0 },
    Department { code: "30", name: "Gard", row: 11, col: 9 },
    Department { code: "31", name: "Haute-Garonne", row: 12, col: 6 },
    Department { code: "32", name: "Gers", row: 11, col: 5 },
    Department { code: "33", name: "Gironde", row: 10, col: 4 },
    Department { code: "34", name: "Hérault", row: 12, col: 8 },
    Department { code: "35", name: "Ille-et-Vilaine", row: 5, col: 3 },
    Department { code: "36", name: "Indre", row: 7, col: 6 },
    Department { code: "37", name: "Indre-et-Loire", row: 6, col: 5 },
    Department { code: "38", name: "Isère", row: 9, col: 10 },
    Department { code: "39", name: "Jura", row: 7, col: 10 },
    Department { code: "40", name: "Landes", row: 11, col: 4 },
    Department { code: "41", name: "Loir-et-Cher", row: 6, col: 6 },
    Department { code: "42", name: "Loire", row: 9, col: 9 },
    Department { code: "43", name: "Haute-Loire", row: 10, col: 8 },
    Department { code: "44", name: "Loire-Atlantique", row: 6, col: 3 },
    Department { code: "45", name: "Loiret", row: 6, col: 7 },
    Department { code: "46", name: "Lot", row: 10, col: 6 },
    Department { code: "47", name: "Lot-et-Garonne", row: 10, col: 5 },
    Department { code: "48", name: "Lozère", row: 11, col: 8 },
    Department { code: "49", name: "Maine-et-Loire", row: 6, col: 4 },
    Department { code: "50", name: "Manche", row: 3, col: 3 },
    Department { code: "51", name: "Marne", row: 3, col: 9 },
    Department { code: "52", name: "Haute-Marne", row: 5, col: 10 },
    Department { code: "53", name: "Mayenne", row: 5, col: 4 },
    Department { code: "54", name: "Meurthe-et-Moselle", row: 4, col: 11 },
    Department { code: "55", name: "Meuse", row: 3, col: 10 },
    Department { code: "56", name: "Morbihan", row: 5, col: 2 },
    Department { code: "57", name: "Moselle", row: 3, col: 11 },
    Department { code: "58", name: "Nièvre", row: 7, col: 8 },
    Department { code: "59", name: "Nord", row: 0, col: 7 },
    Department { code: "60", name: "Oise", row: 2, col: 7 },
    Department { code: "61", name: "Orne", row: 4, col: 5 },
    Department { code: "62", name: "Pas-de-Calais", row: 0, col: 6 },
    Department { code: "63", name: "Puy-de-Dôme", row: 9, col: 8 },
    Department { code: "64", name: "Pyrénées-Atlantiques", row: 12, col: 4 },
    Department { code: "65", name: "Hautes-Pyrénées", row: 12, col: 5 },
    Department { code: "66", name: "Pyrénées-Orientales", row: 13, col: 7 },
    Department { code: "67", name: "Bas-Rhin", row: 4, col: 12 },
    Department { code: "68", name: "Haut-Rhin", row: 5, col: 12 },
    Department { code: "69", name: "Rhône", row: 8, col: 9 },
    Department { code: "70", name: "Haute-Saône", row: 6, col: 11 },
    Department { code: "71", name: "Saône-et-Loire", row: 7, col: 9 },
    Department { code: "72", name: "Sarthe", row: 5, col: 5 },
    Department { code: "73", name: "Savoie", row: 9, col: 11 },
    Department { code: "74", name: "Haute-Savoie", row: 8, col: 11 },
    Department { code: "75", name: "Paris", row: 4, col: 7 },
    Department { code: "76", name: "Seine-Maritime", row: 2, col: 5 },
    Department { code: "77", name: "Seine-et-Marne", row: 4, col: 8 },
    Department { code: "78", name: "Yvelines", row: 3, col: 6 },
    Department { code: "79", name: "Deux-Sèvres", row: 7, col: 4 },
    Department { code: "80", name: "Somme", row: 1, col: 6 },
    Department { code: "81", name: "Tarn", row: 11, col: 7 },
    Department { code: "82", name: "Tarn-et-Garonne", row: 11, col: 6 },
    Department { code: "83", name: "Var", row: 12, col: 11 },
    Department { code: "84", name: "Vaucluse", row: 11, col: 10 },
    Department { code: "85", name: "Vendée", row: 7, col: 3 },
    Department { code: "86", name: "Vienne", row: 7, col: 5 },
    Department { code: "87", name: "Haute-Vienne", row: 8, col: 6 },
    Department { code: "88", name: "Vosges", row: 5, col: 11 },
    Department { code: "89", name: "Yonne", row: 6, col: 8 },
    Department { code: "90", name: "Territoire de Belfort", row: 6, col: 12 },
    Department { code: "91", name: "Essonne", row: 5, col: 7 },
    Department { code: "92", name: "Hauts-de-Seine", row: 4, col: 6 },
    Department { code: "93", name: "Seine-Saint-Denis", row: 3, col: 8 },
    Department { code: "94", name: "Val-de-Marne", row: 5, col: 8 },
    Department { code: "95", name: "Val-d'Oise", row: 3, col: 7 },
    Department { code: "971", name: "Guadeloupe", row: 15, col: 0 },
    Department { code: "972", name: "Martinique", row: 15, col: 1 },
    Department { code: "973", name: "Guyane", row: 15, col: 2 },
    Department { code: "974", name: "La Réunion", row: 15, col: 3 },
    Department { code: "976", name: "Mayotte", row: 15, col: 4 },
];

/// The name of a department, by its code.
pub fn name(code: &str) -> Option<&'static str> {
    DEPARTMENTS.iter().find(|d| d.code == code).map(|d| d.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_department_has_its_own_square() {
        assert_eq!(DEPARTMENTS.len(), 101);
        let mut squares: Vec<(u8, u8)> = DEPARTMENTS.iter().map(|d| (d.row, d.col)).collect();
        squares.sort_unstable();
        squares.dedup();
        assert_eq!(squares.len(), 101);
        assert_eq!(name("2A"), Some("Corse-du-Sud"));
        assert_eq!(name("974"), Some("La Réunion"));
        assert_eq!(name("99"), None);
    }
}
