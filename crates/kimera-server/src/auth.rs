//! Bearer tokens with scopes.
//!
//! Tokens come from a token file (one `read-only TOKEN` or `read-write TOKEN` per line,
//! `#` comments) and from `KIMERA_API_TOKEN` (read-write). Only their BLAKE3 hashes are
//! kept, and a presented token is compared with every one of them in constant time
//! (`subtle`), so neither the comparison's duration nor a memory dump gives a token
//! away. Tokens are never logged: the request log has no headers.

use std::path::Path;

use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read everything, check statements (nothing is written).
    ReadOnly,
    /// Also add statements and start reactor runs.
    ReadWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadOnly => "read-only",
            Scope::ReadWrite => "read-write",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        match s {
            "read-only" | "read" | "ro" => Some(Scope::ReadOnly),
            "read-write" | "write" | "rw" => Some(Scope::ReadWrite),
            _ => None,
        }
    }
}

/// Shortest token accepted: shorter ones can be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// The accepted tokens (as hashes) and their scopes.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Scope)>,
}

impl std::fmt::Debug for Tokens {
    /// Counts only: a token's hash is still not something to print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl Tokens {
    /// Adds a token; refuses one shorter than [`MIN_TOKEN_LEN`] or with whitespace.
    pub fn add(&mut self, token: &str, scope: Scope) -> Result<(), String> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "a token of {} characters is too short (at least {MIN_TOKEN_LEN})",
                token.len()
            ));
        }
        if token.chars().any(char::is_whitespace) {
            return Err("a token may not contain whitespace".into());
        }
        self.entries
            .push((*blake3::hash(token.as_bytes()).as_bytes(), scope));
        Ok(())
    }

    /// Reads a token file: `SCOPE TOKEN` per line (`read-only` or `read-write`), blank
    /// lines and `#` comments skipped. An error names the file and line, never the token.
    pub fn read_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
        let before = self.entries.len();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", path.display(), i + 1);
            let mut words = line.split_whitespace();
            let (Some(scope), Some(token), None) = (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "{at}: expected `read-only TOKEN` or `read-write TOKEN`"
                ));
            };
            let scope = Scope::parse(scope).ok_or_else(|| {
                format!("{at}: unknown scope `{scope}` (use read-only or read-write)")
            })?;
            self.add(token, scope).map_err(|e| format!("{at}: {e}"))?;
        }
        if self.entries.len() == before {
            return Err(format!("token file {} holds no token", path.display()));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The scope of `presented`, if it is one of the tokens. Every stored hash is
    /// compared, in constant time, whatever matches.
    pub fn scope_of(&self, presented: &str) -> Option<Scope> {
        let h = blake3::hash(presented.as_bytes());
        let mut found: Option<Scope> = None;
        for (stored, scope) in &self.entries {
            let eq: bool = stored.ct_eq(h.as_bytes()).into();
            if eq {
                found = Some(found.map_or(*scope, |s| s.max(*scope)));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_with_their_scope_and_files_are_checked_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens");
        std::fs::write(
            &p,
            "# readers\nread-only  reader-token-0123456789\n\nread-write writer-token-0123456789\n",
        )
        .unwrap();
        let mut t = Tokens::default();
        t.read_file(&p).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.scope_of("reader-token-0123456789"), Some(Scope::ReadOnly));
        assert_eq!(
            t.scope_of("writer-token-0123456789"),
            Some(Scope::ReadWrite)
        );
        assert_eq!(t.scope_of("writer-token-012345678"), None);
        assert_eq!(t.scope_of(""), None);
        assert!(!format!("{t:?}").contains("token-0123"));

        std::fs::write(&p, "read-write short\n").unwrap();
        let err = Tokens::default().read_file(&p).unwrap_err();
        assert!(err.contains(":1:") && err.contains("too short"), "{err}");
        assert!(!err.contains("short\n"));
        std::fs::write(&p, "admin abcdefghijklmnopqrstuvwxyz\n").unwrap();
        let err = Tokens::default().read_file(&p).unwrap_err();
        assert!(err.contains("unknown scope `admin`"), "{err}");
        assert!(!err.contains("abcdefghij"), "{err}");
        std::fs::write(&p, "# nothing\n").unwrap();
        assert!(
            Tokens::default()
                .read_file(&p)
                .unwrap_err()
                .contains("no token")
        );
    }
}
