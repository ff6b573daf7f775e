//! Pictures from the CLI (`annuaire stats --chart FILE.svg|FILE.png`), drawn with plotters: a bar chart of the
//! groups (sorted, whole labels, the count at the end of each bar), or, for `--by department`, the tile map of France
//! the analysts' page shows (one square per department, five colour steps).
//!
//! SVG needs nothing; PNG draws its text with a TrueType font found on the machine (DejaVu Sans, Liberation Sans or
//! Noto Sans under `/usr/share/fonts`), and says so when there is none.

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Fonts tried for PNG text, in order.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// The five steps of the map, light to dark, with the text colour that reads on each (as on the page).
const STEPS: [(RGBColor, RGBColor); 6] = [
    (RGBColor(0xf0, 0xf0, 0xf0), RGBColor(0x3a, 0x3a, 0x3a)),
    (RGBColor(0xdb, 0xe4, 0xff), RGBColor(0x16, 0x16, 0x16)),
    (RGBColor(0x9f, 0xb4, 0xf5), RGBColor(0x16, 0x16, 0x16)),
    (RGBColor(0x4d, 0x6b, 0xd6), WHITE),
    (RGBColor(0x2a, 0x3f, 0xa6), WHITE),
    (RGBColor(0x00, 0x00, 0x91), WHITE),
];

const BAR: RGBColor = RGBColor(0x6a, 0x6a, 0xf4);

/// What a chart shows.
pub enum Chart<'a> {
    /// One bar per group: (label, count), drawn largest first.
    Bars { title: &'a str, rows: Vec<(String, u64)> },
    /// The tile map: count by department code.
    Map { title: &'a str, counts: std::collections::HashMap<String, u64> },
}

/// Draw `chart` into `path` (`.svg` or `.png`).
pub fn draw(path: &Path, chart: &Chart<'_>) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let size = match chart {
        Chart::Bars { rows, .. } => (900, 70 + 26 * rows.len().max(1) as u32),
        Chart::Map { .. } => (760, 860),
    };
    match ext.as_str() {
        "svg" => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            paint(&root, chart)?;
            root.present().with_context(|| format!("cannot write {}", path.display()))?;
        }
        "png" => {
            load_font()?;
            let root = BitMapBackend::new(path, size).into_drawing_area();
            paint(&root, chart)?;
            root.present().with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => bail!("--chart writes .svg or .png files, not {}", path.display()),
    }
    Ok(())
}

fn load_font() -> Result<()> {
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *LOADED.get_or_init(|| {
        FONTS.iter().find_map(|p| std::fs::read(p).ok()).is_some_and(|bytes| {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    });
    if !ok {
        bail!(
            "a PNG needs a TrueType font and none was found (looked for {}); write an .svg instead",
            FONTS.join(", ")
        );
    }
    Ok(())
}

fn paint<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart<'_>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let draw = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(|e| anyhow::anyhow!("{e}"));
    match chart {
        Chart::Bars { title, rows } => {
            draw(root.draw(&Text::new(title.to_string(), (20, 20), ("sans-serif", 20).into_font())))?;
            let mut rows = rows.clone();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
            // The labels' column is as wide as the longest label (about 7 pixels a character at 13 px).
            let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(10).min(60) as i32 * 7 + 30;
            let bar_room = (root.dim_in_pixel().0 as i32 - label_width - 90).max(100);
            for (i, (label, n)) in rows.iter().enumerate() {
                let y = 60 + 26 * i as i32;
                draw(root.draw(&Text::new(label.clone(), (20, y + 4), ("sans-serif", 13).into_font())))?;
                let w = (bar_room as f64 * *n as f64 / max as f64).round().max(1.0) as i32;
                draw(root.draw(&Rectangle::new([(label_width, y), (label_width + w, y + 18)], BAR.filled())))?;
                let count = format_count(*n);
                draw(root.draw(&Text::new(count, (label_width + w + 6, y + 4), ("sans-serif", 13).into_font())))?;
            }
        }
        Chart::Map { title, counts } => {
            draw(root.draw(&Text::new(title.to_string(), (20, 20), ("sans-serif", 20).into_font())))?;
            let max = counts.values().copied().max().unwrap_or(1).max(1);
            let (cell, gap, top) = (46, 3, 60);
            for d in annuaire_schemas::departments::DEPARTMENTS {
                let n = counts.get(d.code).copied().unwrap_or(0);
                let step = if n == 0 { 0 } else { 1 + ((4 * n) / max).min(4) as usize };
                let (fill, ink) = STEPS[step];
                let (x, y) = (20 + i32::from(d.col) * (cell + gap), top + i32::from(d.row) * (cell + gap));
                draw(root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled())))?;
                let style = ("sans-serif", 12).into_font().color(&ink);
                draw(root.draw(&Text::new(d.code.to_string(), (x + 5, y + 6), style.clone())))?;
                let style = ("sans-serif", 10).into_font().color(&ink);
                draw(root.draw(&Text::new(format_count(n), (x + 5, y + 26), style)))?;
            }
        }
    }
    Ok(())
}

/// 12345 → `12 345` (French grouping, a thin space).
fn format_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_chart_and_a_map_are_drawn_as_svg_with_every_label_and_count() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let bars = dir.path().join("p.svg");
        let rows = vec![("Infirmier (60)".to_string(), 1200), ("Masseur-Kinésithérapeute (70)".to_string(), 30)];
        draw(&bars, &Chart::Bars { title: "Par profession", rows })?;
        let svg = std::fs::read_to_string(&bars)?;
        assert!(svg.contains("Masseur-Kinésithérapeute (70)") && svg.contains("1\u{202F}200"), "whole labels, counts");
        let map = dir.path().join("d.svg");
        let counts = [("75".to_string(), 10), ("2A".to_string(), 2)].into_iter().collect();
        draw(&map, &Chart::Map { title: "Par département", counts })?;
        let svg = std::fs::read_to_string(&map)?;
        assert_eq!(
            svg.matches("<rect").count(),
            1 + annuaire_schemas::departments::DEPARTMENTS.len(),
            "the background and a square each"
        );
        assert!(draw(&dir.path().join("x.gif"), &Chart::Map { title: "", counts: Default::default() }).is_err());
        Ok(())
    }
}
