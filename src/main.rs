//! The `spanlake` command: runs a node on its embedded defaults or a config file, prints the
//! effective config, or reports its version.
//!
//! Tempo's single-dash flags (`-config.file=x.yaml`) are accepted as well as `--config.file`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use spanlake::bench::blocks::{BlocksBenchOptions, run_blocks_bench};
use spanlake::bench::ingest::{IngestBenchOptions, run_ingest_bench};
use spanlake::bench::search::{SearchBenchOptions, run_search_bench};
use spanlake::config::{Config, ENV_PREFIX, LoadedConfig, LogFormat};
use spanlake::{Node, api};
use tracing::{error, info, warn};

#[derive(Parser, Debug)]
#[command(
    name = "spanlake",
    about = "A tracing database that speaks Tempo's API",
    disable_version_flag = true
)]
struct Cli {
    /// YAML config file (Tempo-style keys); `SPANLAKE_…` environment variables override it.
    #[arg(long = "config.file", value_name = "FILE", global = true)]
    config_file: Option<PathBuf>,
    /// Prints the effective configuration as YAML and exits.
    #[arg(long = "print-config")]
    print_config: bool,
    /// Seeds of the cluster to join (`host:port` of their cluster service, comma-separated);
    /// overrides `cluster.seeds` from the file and the environment.
    #[arg(long = "cluster.seeds", value_name = "HOST:PORT,…", global = true)]
    cluster_seeds: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prints the version.
    Version,
    /// Runs the node (the default).
    Run,
    /// TraceQL tools: check a conformance corpus, parse a query.
    Traceql {
        #[command(subcommand)]
        command: TraceqlCommand,
    },
    /// Measures the node (`spanlake bench ingest|blocks|search|traceql`).
    Bench {
        #[command(subcommand)]
        bench: BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TraceqlCommand {
    /// Checks a corpus (`## valid`, `## parse_fails`, `## validate_fails`, `## unsupported`
    /// sections, one query per line) and prints, per category, how many queries behave as
    /// expected; exits non-zero on any mismatch.
    Check {
        /// The corpus file.
        file: PathBuf,
    },
    /// Parses and validates one query; prints it back in canonical form, or the error.
    Parse {
        /// The query text.
        query: String,
    },
}

/// The shape of the generated load, shared by the benchmarks.
#[derive(clap::Args, Debug)]
struct LoadShape {
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    spans_per_request: usize,
    /// Spans per trace.
    #[arg(long, default_value_t = 10)]
    spans_per_trace: usize,
    /// Partitions of the node.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Durable OTLP/gRPC ingest against a node started as a child process.
    Ingest {
        /// Seconds to measure.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// HTTP/2 connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Nodes (processes on this machine) forming one cluster; the replication factor is
        /// min(3, nodes). Connections are spread over the nodes.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        #[command(flatten)]
        shape: LoadShape,
    },
    /// TraceQL front end: parse + validate time per query, single-threaded, in process.
    Traceql {
        /// Iterations per query.
        #[arg(long, default_value_t = 100_000)]
        iterations: u32,
    },
    /// Blocks: ingest N spans, wait until they are in blocks, measure bytes per span on disk,
    /// block build throughput and trace-by-id latency served from blocks.
    Blocks {
        /// Spans to ingest.
        #[arg(long, default_value_t = 10_000_000)]
        spans: u64,
        /// Trace-by-id lookups measured (after as many cold ones).
        #[arg(long, default_value_t = 1000)]
        lookups: usize,
        /// Requests in flight while ingesting.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[command(flatten)]
        shape: LoadShape,
    },
    /// Search: a generated microservice shop of N spans in blocks; TraceQL searches through
    /// the HTTP API (no match, status 500, structural, a rare value, everything) with
    /// Grafana's limit and as full scans: latency, MB/s and MB/s per node CPU second.
    Search {
        /// Spans to generate.
        #[arg(long, default_value_t = 10_000_000)]
        spans: u64,
        /// Seed of the generated dataset.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Timed runs per query, after one warm-up.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Keeps the node's data here; a dataset made here earlier with the same spans and
        /// seed is searched again without ingesting.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Requests in flight while ingesting.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Partitions of the node.
        #[arg(long, default_value_t = 4)]
        partitions: u32,
    },
}

/// Rewrites Tempo's single-dash long flags (`-config.file=…`) into clap's `--config.file=…`.
fn normalise_arguments(arguments: impl Iterator<Item = String>) -> Vec<String> {
    arguments
        .enumerate()
        .map(|(position, argument)| {
            let is_single_dash_long = position > 0
                && argument.starts_with('-')
                && !argument.starts_with("--")
                && argument.len() > 2;
            if is_single_dash_long { format!("-{argument}") } else { argument }
        })
        .collect()
}

fn load_config(cli: &Cli) -> anyhow::Result<LoadedConfig> {
    let mut environment: HashMap<String, String> = std::env::vars().collect();
    if let Some(seeds) = &cli.cluster_seeds {
        // The flag is the strongest source, so it rides on the environment overrides.
        environment.insert(format!("{ENV_PREFIX}CLUSTER__SEEDS"), seeds.clone());
    }
    match &cli.config_file {
        Some(path) => LoadedConfig::load_file(path, &environment)
            .with_context(|| format!("cannot load config {}", path.display())),
        None => LoadedConfig::load(None, &environment).context("invalid configuration"),
    }
}

fn init_logging(config: &Config) {
    // openraft warns on every failed heartbeat to a down peer (several a second per group):
    // our own cluster code logs what matters, so openraft speaks only of errors by default.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},openraft=error", config.server.log_level))
    });
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    match config.server.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalise_arguments(std::env::args()));
    if matches!(cli.command, Some(Command::Version)) {
        println!(
            "spanlake {} (Tempo API {})",
            api::status::SPANLAKE_VERSION,
            api::status::TEMPO_API_VERSION
        );
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Traceql { command }) = &cli.command {
        return run_traceql(command);
    }
    if let Some(Command::Bench { bench }) = &cli.command {
        return run_bench(bench);
    }
    let loaded = match load_config(&cli) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("spanlake: {error:#}");
            return ExitCode::from(2);
        }
    };
    if cli.print_config {
        print!("{}", loaded.config.to_yaml_redacted());
        return ExitCode::SUCCESS;
    }
    init_logging(&loaded.config);
    for ignored in &loaded.ignored_keys {
        warn!("{ignored}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("spanlake: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(loaded.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!("{error:#}");
            eprintln!("spanlake: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_traceql(command: &TraceqlCommand) -> ExitCode {
    match command {
        TraceqlCommand::Check { file } => {
            let text = match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(error) => {
                    eprintln!("spanlake: cannot read {}: {error}", file.display());
                    return ExitCode::from(2);
                }
            };
            let report = spanlake::traceql::corpus::check(&text);
            print!("{report}");
            if report.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        TraceqlCommand::Parse { query } => match spanlake::traceql::parse_and_validate(query) {
            Ok(parsed) => {
                println!("{parsed}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_bench(bench: &BenchCommand) -> ExitCode {
    if let BenchCommand::Traceql { iterations } = bench {
        print!("{}", spanlake::bench::traceql::run_traceql_bench(*iterations));
        return ExitCode::SUCCESS;
    }
    let node_binary = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            eprintln!("spanlake: cannot find my own binary: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("spanlake: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let table = match bench {
        BenchCommand::Ingest { seconds, concurrency, connections, nodes, shape } => {
            let options = IngestBenchOptions {
                duration: std::time::Duration::from_secs(*seconds),
                concurrency: *concurrency,
                connections: *connections,
                nodes: *nodes,
                spans_per_request: shape.spans_per_request,
                spans_per_trace: shape.spans_per_trace,
                partitions: shape.partitions,
                node_binary,
            };
            runtime.block_on(run_ingest_bench(&options)).map(|report| report.table(&options))
        }
        BenchCommand::Blocks { spans, lookups, concurrency, shape } => {
            let options = BlocksBenchOptions {
                spans: *spans,
                spans_per_request: shape.spans_per_request,
                spans_per_trace: shape.spans_per_trace,
                concurrency: *concurrency,
                lookups: *lookups,
                partitions: shape.partitions,
                node_binary,
            };
            runtime.block_on(run_blocks_bench(&options)).map(|report| report.table(&options))
        }
        BenchCommand::Search { spans, seed, runs, data_dir, concurrency, partitions } => {
            let options = SearchBenchOptions {
                spans: *spans,
                seed: *seed,
                runs: *runs,
                data_dir: data_dir.clone(),
                concurrency: *concurrency,
                partitions: *partitions,
                node_binary,
            };
            return match runtime.block_on(run_search_bench(&options)) {
                Ok(report) => {
                    print!("{}", report.table());
                    // Figures of failed or wrong answers mean nothing: say so in the exit code.
                    if report.problems().is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
                }
                Err(error) => {
                    eprintln!("spanlake: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        BenchCommand::Traceql { .. } => return ExitCode::SUCCESS,
    };
    match table {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("spanlake: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let node = Node::start(config).await?;
    let failure = tokio::select! {
        reason = node.failed() => Some(reason),
        () = shutdown_signal() => None,
    };
    if let Some(reason) = failure {
        anyhow::bail!("node failed: {reason}");
    }
    info!("shutting down");
    node.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempo_single_dash_flags_are_accepted() {
        let arguments =
            ["spanlake", "-config.file=x.yaml", "--print-config", "-h"].map(String::from);
        let normalised = normalise_arguments(arguments.into_iter());
        assert_eq!(normalised, ["spanlake", "--config.file=x.yaml", "--print-config", "-h"]);
    }
}
