//! Shared helpers: the real model is needed; tests skip with a notice without it, and fail
//! under CI=true.

use std::path::PathBuf;

/// The real MiniLM folder, or `None` (after printing why) when it is missing outside CI.
pub fn model_dir() -> Option<PathBuf> {
    let dir = kimera_embed::model_dir();
    match kimera_embed::provision::check_model_dir(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but the model is missing: {e}");
            }
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
