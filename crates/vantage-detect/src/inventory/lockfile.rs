//! Language lockfiles, recognised by their file name: `Cargo.lock`, `package-lock.json`
//! (lockfile versions 1–3), `requirements*.txt` (pinned `==` lines), `poetry.lock`,
//! `Pipfile.lock`, `go.mod`, `composer.lock` and `Gemfile.lock`. Each gives the exact versions an
//! application resolved, judged like SBOM components by the OSV advisories of their ecosystem.
//! Path, git and workspace dependencies (no registry version) are skipped and counted.

use serde_json::Value;
use vantage_domain::Ecosystem;

use super::{InstalledPackage, InventoryError};

/// The lockfile format a file name announces, if any.
pub fn format_of(file_name: &str) -> Option<&'static str> {
    let n = file_name.to_ascii_lowercase();
    Some(match n.as_str() {
        "cargo.lock" => "cargo-lock",
        "package-lock.json" | "npm-shrinkwrap.json" => "npm-lock",
        "poetry.lock" => "poetry-lock",
        "pipfile.lock" => "pipfile-lock",
        "go.mod" => "go-mod",
        "composer.lock" => "composer-lock",
        "gemfile.lock" => "gemfile-lock",
        n if n.starts_with("requirements") && n.ends_with(".txt") => "requirements",
        _ => return None,
    })
}

fn package(ecosystem: Ecosystem, name: &str, version: &str) -> InstalledPackage {
    InstalledPackage {
        ecosystem,
        name: name.to_string(),
        version: version.to_string(),
        arch: None,
        source_name: name.to_string(),
        source_version: version.to_string(),
    }
}

fn err(line: usize, message: impl Into<String>) -> InventoryError {
    InventoryError {
        line,
        message: message.into(),
    }
}

/// Parses a lockfile of a known format: (packages, entries skipped).
pub fn parse(format: &str, text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    match format {
        "cargo-lock" | "poetry-lock" => toml_lock(format, text),
        "npm-lock" => npm_lock(text),
        "pipfile-lock" | "composer-lock" => json_lock(format, text),
        "requirements" => requirements(text),
        "go-mod" => go_mod(text),
        "gemfile-lock" => gemfile_lock(text),
        other => Err(err(0, format!("unknown lockfile format {other}"))),
    }
}

/// `Cargo.lock` and `poetry.lock`: `[[package]]` tables with `name` and `version`.
fn toml_lock(format: &str, text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        err(line, format!("invalid TOML: {}", e.message()))
    })?;
    let ecosystem = if format == "cargo-lock" {
        Ecosystem::Cargo
    } else {
        Ecosystem::Pypi
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    let Some(packages) = doc.get("package").and_then(toml::Value::as_array) else {
        return Ok((out, 0));
    };
    for (i, p) in packages.iter().enumerate() {
        let name = p.get("name").and_then(toml::Value::as_str);
        let version = p.get("version").and_then(toml::Value::as_str);
        let (Some(name), Some(version)) = (name, version) else {
            return Err(err(
                0,
                format!("package[{i}]: name and version are required"),
            ));
        };
        // Cargo: only registry packages have advisories by name (path and git ones are local).
        let registry = p
            .get("source")
            .and_then(toml::Value::as_str)
            .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"));
        if ecosystem == Ecosystem::Cargo && !registry {
            skipped += 1;
            continue;
        }
        // Poetry: directory, file, url and git sources are not PyPI releases.
        if ecosystem == Ecosystem::Pypi
            && p.get("source")
                .and_then(|s| s.get("type"))
                .and_then(toml::Value::as_str)
                .is_some_and(|t| t != "legacy")
        {
            skipped += 1;
            continue;
        }
        out.push(package(ecosystem, name, version));
    }
    Ok((out, skipped))
}

/// `package-lock.json`: `packages` keyed by `node_modules/…` paths (v2, v3) or nested
/// `dependencies` (v1).
fn npm_lock(text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| err(e.line(), format!("invalid JSON: {e}")))?;
    let mut out = Vec::new();
    let mut skipped = 0;
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        for (path, p) in packages {
            let Some(at) = path.rfind("node_modules/") else {
                continue; // "" is the project itself; workspaces are listed by their folder
            };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&path[at + "node_modules/".len()..]);
            match p.get("version").and_then(Value::as_str) {
                Some(v) if p.get("link").and_then(Value::as_bool) != Some(true) => {
                    out.push(package(Ecosystem::Npm, name, v));
                }
                _ => skipped += 1,
            }
        }
        return Ok((out, skipped));
    }
    fn walk(
        deps: &serde_json::Map<String, Value>,
        out: &mut Vec<InstalledPackage>,
        skipped: &mut usize,
    ) {
        for (name, d) in deps {
            match d.get("version").and_then(Value::as_str) {
                Some(v) if !v.contains(':') => out.push(package(Ecosystem::Npm, name, v)),
                _ => *skipped += 1, // file:, git+, link: specs
            }
            if let Some(nested) = d.get("dependencies").and_then(Value::as_object) {
                walk(nested, out, skipped);
            }
        }
    }
    if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        walk(deps, &mut out, &mut skipped);
    }
    Ok((out, skipped))
}

/// `Pipfile.lock` (`default` and `develop`: `"name": {"version": "==1.2"}`) and
/// `composer.lock` (`packages`, `packages-dev`: `[{"name", "version"}]`).
fn json_lock(format: &str, text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| err(e.line(), format!("invalid JSON: {e}")))?;
    let mut out = Vec::new();
    let mut skipped = 0;
    if format == "pipfile-lock" {
        for section in ["default", "develop"] {
            for (name, p) in doc
                .get(section)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                match p
                    .get("version")
                    .and_then(Value::as_str)
                    .and_then(|v| v.strip_prefix("=="))
                {
                    Some(v) => out.push(package(Ecosystem::Pypi, name, v)),
                    None => skipped += 1,
                }
            }
        }
    } else {
        for section in ["packages", "packages-dev"] {
            for p in doc
                .get(section)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = p.get("name").and_then(Value::as_str);
                let version = p.get("version").and_then(Value::as_str);
                match (name, version) {
                    // Branch aliases (`dev-main`) are not releases.
                    (Some(n), Some(v)) if !v.starts_with("dev-") => {
                        out.push(package(Ecosystem::Composer, n, v.trim_start_matches('v')))
                    }
                    _ => skipped += 1,
                }
            }
        }
    }
    Ok((out, skipped))
}

/// `requirements.txt`: `name==version` lines (extras and environment markers allowed); other
/// requirement forms pin nothing and are skipped.
fn requirements(text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut continued = false;
    for (i, raw) in text.lines().enumerate() {
        let was_continued = continued;
        continued = raw.trim_end().ends_with('\\');
        if was_continued {
            continue; // `--hash=…` continuation lines
        }
        let line = raw
            .split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches('\\')
            .trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let spec = line.split(';').next().unwrap_or("").trim();
        let Some((name, version)) = spec.split_once("===").or_else(|| spec.split_once("==")) else {
            skipped += 1;
            continue;
        };
        let name = name.split('[').next().unwrap_or("").trim();
        let version = version.split_whitespace().next().unwrap_or("").trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(err(i + 1, format!("{line:?} is not a requirement")));
        }
        if version.is_empty() || version.contains('*') {
            skipped += 1;
            continue;
        }
        out.push(package(Ecosystem::Pypi, name, version));
    }
    Ok((out, skipped))
}

/// `go.mod`: the `require` directives (single lines and blocks); `replace`d modules keep the
/// required version.
fn go_mod(text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
        } else if line == "require (" || line == "require(" {
            in_block = true;
            continue;
        }
        let spec = if in_block {
            line
        } else if let Some(rest) = line.strip_prefix("require ") {
            rest.trim()
        } else {
            continue;
        };
        if spec.is_empty() {
            continue;
        }
        let mut f = spec.split_whitespace();
        match (f.next(), f.next(), f.next()) {
            (Some(module), Some(version), None) if version.starts_with('v') => {
                out.push(package(Ecosystem::Golang, module, version));
            }
            _ => return Err(err(i + 1, format!("{spec:?}: expected `module vVERSION`"))),
        }
    }
    Ok((out, 0))
}

/// `Gemfile.lock`: the `specs:` of the `GEM` section (`    name (version)`, four spaces).
fn gemfile_lock(text: &str) -> Result<(Vec<InstalledPackage>, usize), InventoryError> {
    let mut out = Vec::new();
    let mut section = "";
    let mut in_specs = false;
    for raw in text.lines() {
        if !raw.starts_with(' ') {
            section = raw.trim();
            in_specs = false;
            continue;
        }
        if raw.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        if section != "GEM" || !in_specs {
            continue;
        }
        // Exactly four spaces: a gem; six: one of its dependencies (a requirement, not a version).
        if raw.starts_with("    ") && !raw.starts_with("     ") {
            let spec = raw.trim();
            if let Some((name, rest)) = spec.split_once(" (") {
                let version = rest.trim_end_matches(')');
                // Platform gems: `nokogiri (1.15.4-x86_64-linux)`.
                let version = version.split('-').next().unwrap_or(version);
                out.push(package(Ecosystem::Gem, name, version));
            }
        }
    }
    Ok((out, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[InstalledPackage]) -> Vec<String> {
        p.iter()
            .map(|p| format!("{} {} {}", p.ecosystem.as_str(), p.name, p.version))
            .collect()
    }

    #[test]
    fn formats_by_file_name() {
        assert_eq!(format_of("Cargo.lock"), Some("cargo-lock"));
        assert_eq!(format_of("requirements-dev.txt"), Some("requirements"));
        assert_eq!(format_of("installed"), None);
    }

    #[test]
    fn cargo_and_poetry() {
        let text = r#"
version = 3

[[package]]
name = "app"
version = "0.1.0"

[[package]]
name = "tokio"
version = "1.18.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abc"
"#;
        let (p, skipped) = parse("cargo-lock", text).unwrap();
        assert_eq!(names(&p), ["cargo tokio 1.18.0"]);
        assert_eq!(skipped, 1);
        let text = "[[package]]\nname = \"Django\"\nversion = \"3.2.0\"\n\n[[package]]\nname = \"local\"\nversion = \"0.1\"\n[package.source]\ntype = \"directory\"\nurl = \"../local\"\n";
        let (p, skipped) = parse("poetry-lock", text).unwrap();
        assert_eq!(
            (names(&p), skipped),
            (vec!["pypi Django 3.2.0".to_string()], 1)
        );
        let e = parse("cargo-lock", "[[package]\nname = 1").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn npm_locks_v1_and_v3() {
        let v3 = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "shop"},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/@babel/core": {"version": "7.20.0"},
            "node_modules/a/node_modules/minimist": {"version": "0.0.8"},
            "node_modules/local": {"resolved": "../local", "link": true}}}"#;
        let (mut p, skipped) = parse("npm-lock", v3).unwrap();
        p.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            names(&p),
            [
                "npm @babel/core 7.20.0",
                "npm lodash 4.17.20",
                "npm minimist 0.0.8"
            ]
        );
        assert_eq!(skipped, 1);
        let v1 = r#"{"lockfileVersion": 1, "dependencies": {
            "lodash": {"version": "4.17.20", "dependencies": {"minimist": {"version": "0.0.8"}}},
            "mine": {"version": "file:../mine"}}}"#;
        let (p, skipped) = parse("npm-lock", v1).unwrap();
        assert_eq!(names(&p), ["npm lodash 4.17.20", "npm minimist 0.0.8"]);
        assert_eq!(skipped, 1);
    }

    #[test]
    fn requirements_go_mod_and_the_rest() {
        let text = "# pinned\nrequests==2.25.0 \\\n    --hash=sha256:abc\nDjango[bcrypt]==3.2.0 ; python_version >= '3.8'\nflask>=2.0\n-r other.txt\n";
        let (p, skipped) = parse("requirements", text).unwrap();
        assert_eq!(names(&p), ["pypi requests 2.25.0", "pypi Django 3.2.0"]);
        assert_eq!(skipped, 1);
        assert_eq!(
            parse("requirements", "not valid!==1\n").unwrap_err().line,
            1
        );

        let text = "module example.com/shop\n\ngo 1.21\n\nrequire golang.org/x/net v0.7.0\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.6.0 // indirect\n\tgolang.org/x/crypto v0.0.0-20200622213623-75b288015ac9\n)\n";
        let (p, _) = parse("go-mod", text).unwrap();
        assert_eq!(
            names(&p),
            [
                "golang golang.org/x/net v0.7.0",
                "golang github.com/gin-gonic/gin v1.6.0",
                "golang golang.org/x/crypto v0.0.0-20200622213623-75b288015ac9"
            ]
        );
        assert_eq!(
            parse("go-mod", "require (\n  broken\n)\n")
                .unwrap_err()
                .line,
            2
        );

        let (p, _) = parse(
            "pipfile-lock",
            r#"{"default": {"requests": {"version": "==2.25.0"}}, "develop": {}}"#,
        )
        .unwrap();
        assert_eq!(names(&p), ["pypi requests 2.25.0"]);
        let (p, skipped) = parse(
            "composer-lock",
            r#"{"packages": [{"name": "laravel/framework", "version": "v8.0.0"}, {"name": "x/y", "version": "dev-main"}]}"#,
        )
        .unwrap();
        assert_eq!(
            (names(&p), skipped),
            (vec!["composer laravel/framework 8.0.0".to_string()], 1)
        );
        let text = "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.3)\n    nokogiri (1.15.4-x86_64-linux)\n      racc (~> 1.4)\n\nPLATFORMS\n  ruby\n";
        let (p, _) = parse("gemfile-lock", text).unwrap();
        assert_eq!(names(&p), ["gem rack 2.2.3", "gem nokogiri 1.15.4"]);
    }
}
