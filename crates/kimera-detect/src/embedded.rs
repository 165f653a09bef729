//! The committed detector weights, carried inside the binary.
//!
//! `build.rs` embeds every file of `crates/kimera-detect/weights/` ([`files`]). The
//! loaders read folders, so on first use the files are written out once to
//! `$KIMERA_HOME/detector/<digest>/` (beside the embedding model; the digest of the
//! contents names the folder, so a kimera with other weights never reads stale ones)
//! and loaded from there. The folder is written under a temporary name and renamed
//! into place, so a concurrent kimera never sees half of it. Nothing is read from the
//! source tree: an installed binary works after its clone is moved or deleted.
//! `KIMERA_DETECTOR_DIR` still overrides all this (see
//! [`crate::default_detector_dir`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::{DetectError, Result};

include!(concat!(env!("OUT_DIR"), "/embedded_weights.rs"));

/// Every embedded file: (path relative to the weights folder, contents).
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    FILES
}

/// Hex sha256 over the names and contents of every embedded file.
pub fn digest() -> &'static str {
    static D: OnceLock<String> = OnceLock::new();
    D.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, bytes) in FILES {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        hex::encode(h.finalize())
    })
}

/// The folder the embedded weights are written to: `$KIMERA_HOME/detector/<digest>`.
pub fn install_dir() -> PathBuf {
    kimera_embed::provision::kimera_home()
        .join("detector")
        .join(&digest()[..16])
}

/// Writes the embedded weights to [`install_dir`] unless they are there already, and
/// returns that folder.
pub fn install() -> Result<PathBuf> {
    let dir = install_dir();
    if complete(&dir) {
        return Ok(dir);
    }
    let io = |path: &Path, source: std::io::Error| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let parent = dir.parent().expect("install_dir has a parent");
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let tmp = parent.join(format!(".{}.tmp-{}", &digest()[..16], std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (name, bytes) in FILES {
        let p = tmp.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
    }
    if dir.exists() {
        // an incomplete folder (a file deleted by hand): replace it
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // another kimera put it in place first
        if !complete(&dir) {
            return Err(io(&dir, e));
        }
    }
    tracing::info!(dir = %dir.display(), "installed the embedded detector weights");
    Ok(dir)
}

/// Every embedded file is in `dir` with its length (a folder is renamed into place
/// whole, so lengths catch only files changed by hand).
fn complete(dir: &Path) -> bool {
    FILES.iter().all(|(name, bytes)| {
        std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == bytes.len() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weights_file_is_embedded_byte_for_byte() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
        for must in [
            "head/weights.safetensors",
            "head/meta.json",
            "cross/weights.safetensors",
            "cross/meta.json",
            "decision.json",
        ] {
            assert!(
                FILES.iter().any(|(n, _)| *n == must),
                "{must} is not embedded"
            );
        }
        for (name, bytes) in FILES {
            assert_eq!(std::fs::read(src.join(name)).unwrap(), *bytes, "{name}");
        }
    }
}
