//! End-to-end tests of mcc-emu across its crates live in `tests/tests/`
//! (for instance: a migration the experiment engine runs over a topology
//! path agrees with the migration model's own single-link driver). Tests of
//! one crate, and of the `mcc-emu` command line, live with their crate.
