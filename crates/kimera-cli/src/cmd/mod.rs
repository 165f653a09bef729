//! One module per subcommand, each with an `Args` struct and a `run` function.

pub mod export;
pub mod ingest;
pub mod stats;
