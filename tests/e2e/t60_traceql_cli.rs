//! `spanlake traceql check FILE` and `spanlake traceql parse QUERY`: the binary as users and
//! CI run it, on a corpus of our own queries.

use std::process::Command;

fn spanlake(arguments: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_spanlake"))
        .args(arguments)
        .output()
        .expect("run spanlake");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

const CORPUS: &str = r#"# our own queries, one per line
## valid
{ resource.service.name = "cart" && span.http.status_code >= 500 }
{ kind = server } >> { status = error } | by(resource.service.name) | count() > 2
{ ."attr\twith tab" = "v" }
{} | rate() by (span.http.route) | topk(5) with(sample=0.1)
## parse_fails
{ .a == 1 }
{ span.a = 1
## validate_fails
{ span.a =~ "(" }
{ name > 3 }
## unsupported
{ parent.span.a = 1 }
({ .a } | count()) > ({ .b } | count())
## dump
"#;

/// A corpus where every query behaves as its category says passes, with a count per category.
#[test]
fn traceql_check_counts_each_category_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.txt");
    std::fs::write(&file, CORPUS).unwrap();
    let (code, stdout, stderr) = spanlake(&["traceql", "check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for line in [
        "valid                   4        4  ok",
        "parse_fails             2        2  ok",
        "validate_fails          2        2  ok",
        "unsupported             2        2  ok",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
}

/// A query in the wrong category is listed with its line and the error, and the exit code
/// says so.
#[test]
fn traceql_check_lists_mismatches_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.txt");
    std::fs::write(&file, "## valid\n{ .a = 1 }\n{ .a = }\n## unsupported\n{ .a = 1 }\n").unwrap();
    let (code, stdout, _) = spanlake(&["traceql", "check", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("line 3: expected valid, got parse_fails: { .a = }"), "{stdout}");
    assert!(stdout.contains("parse error at line 1, col 8"), "{stdout}");
    assert!(stdout.contains("line 5: expected unsupported, got valid"), "{stdout}");

    let (code, _, stderr) = spanlake(&["traceql", "check", "/nonexistent/corpus.txt"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read /nonexistent/corpus.txt"), "{stderr}");
}

/// `parse` prints the canonical form, or the error with its position.
#[test]
fn traceql_parse_prints_canonical_form_or_error() {
    let (code, stdout, _) = spanlake(&["traceql", "parse", "{span:duration>1s&&.a=1+1}"]);
    assert_eq!((code, stdout.as_str()), (0, "{ duration > 1s && .a = 2 }\n"));
    let (code, _, stderr) = spanlake(&["traceql", "parse", "{ .a = 1 } | foo"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("parse error at line 1, col 14:"), "{stderr}");
    let (code, _, stderr) = spanlake(&["traceql", "parse", "{ parent.a = 1 }"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not yet supported"), "{stderr}");
}
