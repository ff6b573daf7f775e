//! End to end: the real `annuaire` binary, the committed sample extract, a real SQLite file.

mod claims;
mod sync;
