//! `.dockerignore` with Docker's own semantics (moby/patternmatcher and moby/go-archive, as
//! `docker build` applies them), not gitignore's: patterns are anchored at the context root
//! (`*.md` is root-only; `**/*.md` is any depth), `*` and `?` never cross `/`, `**` spans
//! directories, a leading `/` is dropped, the last matching line wins, `!` re-includes even inside an
//! excluded directory, and a path is excluded when it or any parent directory matches.
//!
//! Written from the documented rules and the behaviour of those Go packages (Apache-2.0); the golden
//! table in the tests is their `TestMatches` table plus cases of our own.

use regex::Regex;

/// Parses a .dockerignore file as `ignorefile.ReadAll` does: BOM stripped, `#` comments in column 1,
/// whitespace trimmed, empty lines dropped, each pattern path-cleaned with any leading `/` removed.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = if pattern.is_empty() {
            String::new()
        } else {
            clean_path(pattern)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `filepath.Clean` for slash paths: no `.` segments, `..` resolved lexically, no duplicate or
/// trailing slashes; an empty result is `.`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid .dockerignore pattern `{pattern}`: {reason}")]
pub struct BadPattern {
    pub pattern: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix(String),
    /// `**/x` or `**x`: the path ends with the text after `**`.
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// A compiled list of patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

impl Matcher {
    pub fn new(patterns: &[String]) -> Result<Self, BadPattern> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean_path(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(BadPattern {
                        pattern: raw.clone(),
                        reason: "a lone `!` excludes nothing".into(),
                    });
                }
                p.remove(0);
            }
            let kind = compile(&p).map_err(|reason| BadPattern {
                pattern: raw.clone(),
                reason,
            })?;
            compiled.push(Pattern {
                text: p,
                exclusion,
                kind,
            });
        }
        Ok(Matcher { patterns: compiled })
    }

    /// Whether any pattern re-includes (`!`).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (slash-separated, relative to the context) is excluded: the last pattern that
    /// matches it or one of its parent directories decides (`MatchesOrParentMatches`).
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion cannot change an already excluded path, nor an exclusion a kept one.
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(path);
            if !hit {
                for i in 1..=parents.len() {
                    if pattern.matches(&parents[..i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether a walk may skip an excluded directory whole: only when no `!` pattern could
    /// re-include something below it (moby/go-archive).
    pub fn can_skip_dir(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        !self
            .patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }
}

fn compile(pattern: &str) -> Result<Kind, String> {
    let mut re = String::from("^");
    let mut kind_is_regex = false;
    let mut prefix = false;
    let mut suffix = false;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut index = 0;
    let mut class_depth = 0i32;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind_is_regex || suffix {
                        re.push_str(".*");
                        kind_is_regex = true;
                    } else {
                        prefix = true;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind_is_regex = true;
                }
                if index == 0 {
                    suffix = true;
                    prefix = false;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind_is_regex = true;
            }
            '?' => {
                re.push_str("[^/]");
                kind_is_regex = true;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    i += 1;
                    re.push('\\');
                    re.push(next);
                    kind_is_regex = true;
                } else {
                    re.push_str("\\\\");
                }
            }
            '[' | ']' => {
                class_depth += if ch == '[' { 1 } else { -1 };
                re.push(ch);
                kind_is_regex = true;
            }
            other => re.push(other),
        }
        index += 1;
    }
    if class_depth != 0 {
        return Err("unbalanced `[` in a character class".into());
    }
    // Go decides the match type by the last wildcard seen; a leading `**` makes it a suffix match
    // unless a later wildcard made it a regular expression.
    if suffix && !kind_is_regex_after_lead(pattern) {
        return Ok(Kind::Suffix(pattern[2..].to_owned()));
    }
    if prefix {
        return Ok(Kind::Prefix(pattern[..pattern.len() - 2].to_owned()));
    }
    if kind_is_regex {
        re.push('$');
        return Regex::new(&re).map(Kind::Regex).map_err(|e| e.to_string());
    }
    Ok(Kind::Exact)
}

/// Whether anything after a leading `**` (and its `/`) is a wildcard, escape or class, which
/// turns Go's suffix match into a regular expression.
fn kind_is_regex_after_lead(pattern: &str) -> bool {
    let rest = pattern.strip_prefix("**").unwrap_or(pattern);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    rest.contains(['*', '?', '\\', '[', ']'])
}

/// Docker's `TrimBuildFilesFromExcludes`: the daemon needs .dockerignore and the Dockerfile, so
/// they are re-included when the patterns would exclude them.
pub fn keep_build_files(patterns: &mut Vec<String>, dockerfile: &str) -> Result<(), BadPattern> {
    if Matcher::new(patterns)?.excludes(".dockerignore") {
        patterns.push("!.dockerignore".into());
    }
    if Matcher::new(patterns)?.excludes(dockerfile) {
        patterns.push(format!("!{dockerfile}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> Matcher {
        Matcher::new(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    /// moby/patternmatcher's TestMatches table (paths cleaned, as a walk produces them).
    #[test]
    fn docker_golden_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**/", "file", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\*b", "a*b", true),
            // Our own: anchoring and parents, which gitignore gets differently.
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("**/*.md", "docs/README.md", true),
            ("node_modules", "node_modules/x/index.js", true),
            ("node_modules", "web/node_modules/x", false),
            ("build/", "build/out.o", true),
            ("/secret.env", "secret.env", true),
            ("./tmp/../cache", "cache/x", true),
            ("**suffix", "dirsuffix", true),
            ("*/temp*", "somedir/temporary.txt", true),
            ("*/*/temp*", "somedir/subdir/temporary.txt", true),
            ("temp?", "tempa", true),
        ];
        for (pattern, path, want) in cases {
            let got = Matcher::new(&read_patterns(pattern))
                .unwrap()
                .excludes(path);
            assert_eq!(got, *want, "pattern {pattern:?} on {path:?}");
        }
    }

    #[test]
    fn the_last_matching_line_wins_and_bang_re_includes() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
            (&["*.md", "!README.md"], "README.md", false),
            (&["*.md", "!README.md"], "CHANGES.md", true),
            (&["!README.md", "*.md"], "README.md", true),
            (&["docs", "!docs/keep.txt"], "docs/keep.txt", false),
            (&["docs", "!docs/keep.txt"], "docs/drop.txt", true),
        ];
        for (patterns, path, want) in cases {
            assert_eq!(
                matcher(patterns).excludes(path),
                *want,
                "{patterns:?} on {path:?}"
            );
        }
    }

    #[test]
    fn excluded_dirs_are_skipped_only_without_an_exception_below_them() {
        let m = matcher(&["docs", "!docs/keep.txt", "tmp"]);
        assert!(!m.can_skip_dir("docs"));
        assert!(m.can_skip_dir("tmp"));
        assert!(matcher(&["a"]).can_skip_dir("a"));
    }

    #[test]
    fn the_file_is_read_as_docker_reads_it() {
        let text = "\u{feff}# comment\n  *.log  \n\n!  keep.log\n/abs/path\n  # not a comment once indented\ndir/./sub/../x/\n!\n";
        assert_eq!(
            read_patterns(text),
            [
                "*.log",
                "!keep.log",
                "abs/path",
                "# not a comment once indented",
                "dir/x",
                "!"
            ]
        );
        assert!(
            Matcher::new(&read_patterns(text)).is_err(),
            "a lone `!` is refused"
        );
        assert!(Matcher::new(&["[".to_owned()]).is_err());
    }

    #[test]
    fn the_dockerfile_and_dockerignore_are_always_sent() {
        let mut patterns = vec!["*".to_owned()];
        keep_build_files(&mut patterns, "Dockerfile").unwrap();
        assert_eq!(patterns, ["*", "!.dockerignore", "!Dockerfile"]);
        let m = Matcher::new(&patterns).unwrap();
        assert!(!m.excludes("Dockerfile") && !m.excludes(".dockerignore") && m.excludes("src"));

        let mut nested = vec!["docker".to_owned()];
        keep_build_files(&mut nested, "docker/app.Dockerfile").unwrap();
        let m = Matcher::new(&nested).unwrap();
        assert!(
            !m.excludes("docker/app.Dockerfile")
                && m.excludes("docker/other")
                && !m.can_skip_dir("docker")
        );

        let mut untouched = vec!["*.log".to_owned()];
        keep_build_files(&mut untouched, "Dockerfile").unwrap();
        assert_eq!(untouched, ["*.log"]);
    }

    #[test]
    fn clean_path_matches_go() {
        for (input, want) in [
            ("a/./b", "a/b"),
            ("a//b/", "a/b"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("./", "."),
            ("a/b/../c", "a/c"),
        ] {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }
}
