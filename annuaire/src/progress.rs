//! Progress bars on stderr, only when stderr is a terminal (never in logs or pipes).

use annuaire_ingest::run::ProgressFn;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

type Shared = Arc<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>;

/// One bar per phase (`read <file>`, `write`), created on first report.
pub struct Bars {
    inner: Option<Shared>,
}

impl Bars {
    /// Bars when stderr is a terminal, nothing otherwise.
    pub fn new() -> Bars {
        let inner =
            std::io::stderr().is_terminal().then(|| Arc::new((MultiProgress::new(), Mutex::new(HashMap::new()))));
        Bars { inner }
    }

    /// The callback to give the ingest.
    pub fn callback(&self) -> Option<ProgressFn> {
        let inner = self.inner.clone()?;
        Some(Arc::new(move |phase: &str, done: u64, total: u64| {
            let (multi, bars) = &*inner;
            let Ok(mut bars) = bars.lock() else { return };
            let bar = bars.entry(phase.to_string()).or_insert_with(|| {
                let bytes = phase.starts_with("read") || phase == "download";
                let template = if bytes {
                    "{msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
                } else {
                    "{msg:40} [{bar:30}] {pos}/{len} persons"
                };
                let b = multi.add(ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.set_message(phase.to_string());
                b
            });
            bar.set_length(total.max(done));
            bar.set_position(done);
        }))
    }

    /// Finish and clear the bars.
    pub fn finish(&self) {
        if let Some(inner) = &self.inner
            && let Ok(bars) = inner.1.lock()
        {
            for b in bars.values() {
                b.finish_and_clear();
            }
        }
    }
}
