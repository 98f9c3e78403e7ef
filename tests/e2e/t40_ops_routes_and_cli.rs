//! Ops routes for Grafana and Prometheus, and the command line.

use std::process::Command;

use crate::harness::TestNode;
use crate::harness::clients::must_post_protobuf;
use crate::harness::spans;

/// `/ready`, `/api/echo`, buildinfo, `/status/config` and `/metrics` answer as Tempo's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_routes_answer_like_tempo() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let (status, _, body) = tempo.get("/ready", None).await;
    assert_eq!((status, body.as_slice()), (200, b"ready\n".as_slice()));
    let (status, _, body) = tempo.get("/api/echo", None).await;
    assert_eq!((status, body.as_slice()), (200, b"echo\n".as_slice()));

    let (status, info) = tempo.json("/api/status/buildinfo").await;
    assert_eq!(status, 200);
    let version = info["version"].as_str().expect("version string");
    let parts: Vec<u64> = version.split('.').map(|part| part.parse().expect("semver")).collect();
    assert!(
        parts[0] > 2 || (parts[0] == 2 && parts[1] >= 7),
        "Grafana needs >= 2.7.0, got {version}"
    );
    for key in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(info[key].is_string(), "{key}");
    }

    let (status, _, body) = tempo.get("/status/config", None).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("http_listen_port"));

    must_post_protobuf(&node.otlp_http_url(), &spans::request(&[1, 2], 3)).await;
    let (status, content_type, body) = tempo.get("/metrics", None).await;
    assert_eq!(status, 200);
    assert!(content_type.contains("text"), "{content_type}");
    let metrics = String::from_utf8_lossy(&body);
    for expected in [
        "spanlake_distributor_spans_received_total{tenant=\"single-tenant\"} 6",
        "spanlake_distributor_bytes_received_total",
        "spanlake_wal_fsync_duration_seconds_bucket",
        "spanlake_live_store_live_traces",
        "spanlake_actor_restarts_total",
    ] {
        assert!(metrics.contains(expected), "missing {expected} in:\n{metrics}");
    }
}

fn spanlake(arguments: &[&str], environment: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_spanlake"))
        .args(arguments)
        .envs(environment.iter().copied())
        .output()
        .expect("run spanlake");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// `--print-config` shows defaults, file values and environment overrides; unknown keys fail.
#[test]
fn the_cli_prints_config_and_names_unknown_keys() {
    let (ok, stdout, _) = spanlake(&["--print-config"], &[]);
    assert!(ok);
    assert!(stdout.contains("http_listen_port: 3200"), "{stdout}");
    assert!(stdout.contains("./data/wal"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spanlake.yaml");
    std::fs::write(&file, "server:\n  http_listen_port: 3300\n").unwrap();
    let flag = format!("-config.file={}", file.display());
    let (ok, stdout, _) =
        spanlake(&[&flag, "--print-config"], &[("SPANLAKE_PARTITIONS__COUNT", "8")]);
    assert!(ok);
    assert!(stdout.contains("http_listen_port: 3300"), "{stdout}");
    assert!(stdout.contains("count: 8"), "{stdout}");

    std::fs::write(&file, "server:\n  http_listen_prot: 3300\n").unwrap();
    let (ok, _, stderr) = spanlake(&[&flag, "--print-config"], &[]);
    assert!(!ok);
    assert!(stderr.contains("server.http_listen_prot"), "{stderr}");

    // Secrets never reach the output, wherever they came from.
    let (ok, stdout, _) = spanlake(
        &["--print-config"],
        &[
            ("SPANLAKE_STORAGE__TRACE__S3__SECRET_KEY", "s3-secret-from-env"),
            ("SPANLAKE_STORAGE__TRACE__AZURE__STORAGE_ACCOUNT_KEY", "azure-key-from-env"),
        ],
    );
    assert!(ok);
    assert!(!stdout.contains("s3-secret-from-env"), "{stdout}");
    assert!(!stdout.contains("azure-key-from-env"), "{stdout}");
    assert!(stdout.contains("secret_key: <redacted>"), "{stdout}");
    assert!(stdout.contains("backend: local"), "{stdout}");

    let (ok, stdout, _) = spanlake(&["version"], &[]);
    assert!(ok);
    assert!(stdout.starts_with("spanlake "), "{stdout}");
}

/// `spanlake bench search` ingests a generated shop into a node, waits until it is in blocks
/// and prints one row per query and limit; every row searched blocks and found what the
/// generator knows matches, including the one trace holding a rare attribute value.
#[test]
fn bench_search_prints_a_row_per_query_searched_over_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 temp path");
    let (ok, stdout, stderr) = spanlake(
        &["bench", "search", "--spans", "20000", "--runs", "1", "--data-dir", data_arg],
        &[],
    );
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("PROBLEMS"), "{stdout}");
    assert!(data.join("spanlake-bench-search.dataset").exists(), "the dataset marker");

    // query limit p50 min traces expected inspected-MB block-MB cpu-ms MB/s MB/s/core
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|columns| columns.len() == 11 && ["20", "full"].contains(&columns[1]))
        .collect();
    let expected_rows = [
        ("no-match", "20"),
        ("no-match", "full"),
        ("status-500", "20"),
        ("status-500", "full"),
        ("structural", "20"),
        ("structural", "full"),
        ("rare-value", "20"),
        ("rare-value", "full"),
        ("match-all", "20"),
    ];
    assert_eq!(rows.len(), expected_rows.len(), "{stdout}");
    for (name, limit) in expected_rows {
        let row = rows
            .iter()
            .find(|columns| columns[0] == name && columns[1] == limit)
            .unwrap_or_else(|| panic!("no row {name} limit {limit} in:\n{stdout}"));
        // Push-down may fetch next to nothing (a value no dictionary holds), but every
        // search must have gone over the blocks.
        let block_megabytes: f64 = row[7].parse().expect("block MB");
        assert!(block_megabytes > 0.0, "{name} {limit} searched no blocks:\n{stdout}");
        assert_eq!(row[4], row[5], "{name} {limit}: traces found vs expected:\n{stdout}");
        if name == "rare-value" {
            assert!(row[4].parse::<u64>().expect("traces") >= 1, "{stdout}");
        }
    }
    let spans: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("dataset"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no dataset line in:\n{stdout}"));
    assert!((20_000..22_000).contains(&spans), "whole traces up to the asked spans: {spans}");
}
