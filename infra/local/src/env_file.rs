//! The local gateway's `.env` file: a developer who points the local API at real test apps
//! (a Kakao or Strava developer application, say) keeps those settings there, out of git
//! (`.gitignore` lists it) and out of the shell's history. `.env.example` lists every
//! setting with its meaning and default.
//!
//! The file is read once, into a map; the process environment is never changed, so nothing
//! else in the process (the AWS SDK, a test on another thread) sees the file's values. A
//! variable set in the shell wins over the file, as with every dotenv tool. Lambda
//! functions never read it.

use std::collections::HashMap;
use std::path::Path;

/// Why `.env` could not be used; the gateway stops rather than start on half a file.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// A line is not `NAME=value` (or a comment).
    #[error("{path}: cannot read line {line}: {text}")]
    Line {
        /// The file.
        path: String,
        /// The line's number, from 1.
        line: usize,
        /// What dotenvy could not read, as the file has it.
        text: String,
    },
    /// The file exists but cannot be read (permissions, not UTF-8).
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The reason.
        reason: String,
    },
}

/// The settings of the dotenv file at `path`; none when there is no such file.
pub fn read(path: &Path) -> Result<HashMap<String, String>, EnvFileError> {
    let unreadable = |reason: String| EnvFileError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let whole = match std::fs::read_to_string(path) {
        Ok(whole) => whole,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(err) => return Err(unreadable(err.to_string())),
    };
    let mut settings = HashMap::new();
    for entry in dotenvy::from_read_iter(whole.as_bytes()) {
        match entry {
            Ok((name, value)) => {
                settings.insert(name, value);
            }
            // dotenvy names the text it could not read and a position within it, not its
            // line: the line is where that text starts in the file
            Err(dotenvy::Error::LineParse(text, _)) => {
                let first = text.lines().next().unwrap_or_default();
                let line = whole
                    .lines()
                    .position(|line| line.contains(first))
                    .map_or(1, |index| index + 1);
                return Err(EnvFileError::Line {
                    path: path.display().to_string(),
                    line,
                    text,
                });
            }
            Err(err) => return Err(unreadable(err.to_string())),
        }
    }
    Ok(settings)
}

/// A lookup that asks `process` (the environment) first and then the file's `settings`.
pub fn layered(
    settings: HashMap<String, String>,
    process: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    move |name| process(name).or_else(|| settings.get(name).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join(".env");
        std::fs::write(&path, text).expect("write .env");
        (dir, path)
    }

    #[test]
    fn without_a_file_there_are_no_settings() {
        let dir = tempfile::tempdir().expect("a folder");
        let settings = read(&dir.path().join(".env")).expect("no file is fine");
        assert!(settings.is_empty());
    }

    #[test]
    fn the_file_fills_in_what_the_shell_does_not_set() {
        // given a .env with a Kakao app id, a quoted value and a comment
        let (_dir, path) = env_file(
            "# a developer's test apps\nKAKAO_APP_ID=123456\nSTRAVA_SCOPE=\"activity:read\"\nPORT=4000\n",
        );
        let settings = read(&path).expect("a readable file");
        // and a shell that sets PORT itself
        let lookup = layered(settings, |name| (name == "PORT").then(|| "3000".to_owned()));
        // then the file's values are seen, and the shell's PORT wins
        assert_eq!(lookup("KAKAO_APP_ID").as_deref(), Some("123456"));
        assert_eq!(lookup("STRAVA_SCOPE").as_deref(), Some("activity:read"));
        assert_eq!(lookup("PORT").as_deref(), Some("3000"));
        assert_eq!(lookup("NAVER_CLIENT_ID"), None);
    }

    #[test]
    fn the_example_lists_every_setting_of_the_readme_and_changes_nothing_as_it_is() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let example = std::fs::read_to_string(root.join(".env.example")).expect(".env.example");
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        // the README's configuration table: rows after its header, up to the first other line
        let table = readme
            .split("| variable | default (local) | meaning |")
            .nth(1)
            .expect("the configuration table");
        let names: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .flat_map(|row| row.split(" | ").next().unwrap_or("").split('`'))
            .filter(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert!(names.len() > 50, "the table was found: {names:?}");
        for name in names {
            assert!(
                example.contains(&format!("# {name}=")),
                ".env.example lists {name}"
            );
        }
        // copied to .env unchanged, it sets nothing
        let (_dir, path) = env_file(&example);
        assert!(read(&path).expect("the example reads").is_empty());
    }

    #[test]
    fn a_line_that_is_not_a_setting_stops_the_start_and_is_named() {
        let (_dir, path) = env_file("KAKAO_APP_ID=1\nthis is not a setting\n");
        let err = read(&path).expect_err("a broken line");
        let message = err.to_string();
        assert!(message.contains("line 2"), "{message}");
        assert!(message.contains("this is not a setting"), "{message}");
    }
}
