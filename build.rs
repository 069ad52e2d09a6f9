//! Build script: records the git commit the binary is built from, for `sluice --version`,
//! the `sluice_build_info` metric and the status report (`SLUICE_GIT_COMMIT` at compile time).
//!
//! The commit is `git rev-parse --short=12 HEAD`, with `-dirty` when tracked files differ
//! from it. Where there is no git or no repository (a source tarball, a container build
//! without `.git`) it is `unknown`, unless the builder sets `SLUICE_GIT_COMMIT` itself.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SLUICE_GIT_COMMIT");
    let commit = match std::env::var("SLUICE_GIT_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=SLUICE_GIT_COMMIT={commit}");
}

/// The commit of HEAD (plus `-dirty`), and the files whose change must rerun this script.
fn from_git() -> Option<String> {
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    watch_git_files();
    // `--no-optional-locks`: `git status` would otherwise refresh and rewrite the index,
    // whose new mtime would rerun this script (and rebuild the crate) on every build.
    let status = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]);
    // A source edit makes the tree dirty: rerun on the sources so `-dirty` follows it.
    for path in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={path}");
    }
    match status {
        Some(s) if !s.is_empty() => Some(format!("{head}-dirty")),
        _ => Some(head),
    }
}

/// Reruns this script when HEAD moves: HEAD itself (a checkout), the branch it points to
/// (a commit), `packed-refs` (a branch packed by `git gc`) and the index (staging). In a
/// worktree `.git` is a file naming the worktree's own git directory, which holds HEAD and
/// the index, while the branches live in the common directory: git tells both.
fn watch_git_files() {
    let (Some(git_dir), Some(common_dir)) = (
        git(&["rev-parse", "--git-dir"]).map(absolute),
        git(&["rev-parse", "--git-common-dir"]).map(absolute),
    ) else {
        return;
    };
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(branch));
    }
    watched.push(common_dir.join("packed-refs"));
    for path in watched.into_iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// git's answer, run in the package directory; `None` if git is absent or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_string())
}

fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// git prints paths relative to the directory it ran in.
fn absolute(path: String) -> PathBuf {
    let path = Path::new(&path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        manifest_dir().join(path)
    }
}
