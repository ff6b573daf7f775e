//! End to end: the real `annuaire` binary, the committed sample extract, a real SQLite file.
//! (Declared as an integration test of the `annuaire` package so that cargo builds the binary first.)

mod api;
mod claims;
mod common;
mod sync;
