//! End to end: the real `annuaire` binary, the committed sample extract, a real SQLite file, or a real
//! PostgreSQL server with `ANNUAIRE_TEST_BACKEND=postgres` (see `common::on_postgres`).
//! (Declared as an integration test of the `annuaire` package so that cargo builds the binary first.)

mod api;
mod claims;
mod common;
mod contract;
mod extracts;
mod fhir;
mod hardening;
mod layout;
mod operators;
mod scale_out;
mod sync;
mod web;
