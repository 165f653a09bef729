//! Helpers shared by the CLI integration tests.

use std::path::PathBuf;

/// The real model folder, or `None` (the test skips, with a notice) when it has not been
/// fetched; under CI (`CI=true`) a missing model fails the test instead.
pub fn real_model_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("KIMERA_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("KIMERA_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/kimera")
            })
            .join("models/all-MiniLM-L6-v2"),
    };
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the embedding model is missing under CI: run scripts/fetch-model.sh");
    }
    eprintln!(
        "notice: model not fetched ({}); skipping. Run scripts/fetch-model.sh",
        dir.display()
    );
    None
}

/// The real model folder, a temporary folder and the path of a store `name` inside it —
/// the set-up of every test that runs the real model on a fresh store — or `None` when
/// the model is missing (see [`real_model_dir`]).
pub fn real_model_and_store(name: &str) -> Option<(PathBuf, tempfile::TempDir, PathBuf)> {
    let model = real_model_dir()?;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(name);
    Some((model, dir, db))
}
