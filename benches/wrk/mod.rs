//! What the benches share: wrk runs read into figures, the median, and today's date.

use std::path::Path;
use std::process::Command;

use super::common::Asterisk;

/// What one wrk run saw.
#[derive(Clone, Copy, Default, Debug)]
pub struct Run {
    pub rps: f64,
    pub mb_per_s: f64,
    pub p99_ms: f64,
    pub failed: u64,
}

fn unit_value(s: &str, units: &[(&str, f64)]) -> f64 {
    for (u, m) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.parse::<f64>().unwrap_or(0.0) * m;
        }
    }
    s.parse().unwrap_or(0.0)
}

/// wrk for `seconds` at `conns` connections on `path` of `ast` (with a Lua `script`, which
/// chooses the paths itself); answers that are not 2xx count as failed when `expect_2xx`,
/// socket errors always. `headers` ("Name: value") go with every request.
pub fn run(
    ast: &Asterisk,
    path: &str,
    conns: u32,
    seconds: u32,
    script: Option<&Path>,
    headers: &[&str],
    expect_2xx: bool,
) -> Run {
    let url = format!("http://127.0.0.1:{}{path}", ast.port);
    let mut wrk = Command::new("wrk");
    wrk.args(["-t", &conns.min(2).to_string(), "-c", &conns.to_string()])
        .args([
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
        ]);
    if let Some(script) = script {
        wrk.arg("-s").arg(script);
    }
    for h in headers {
        wrk.args(["-H", h]);
    }
    let out = wrk.arg(&url).output().expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run::default();
    let mut in_distribution = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(0.0),
            ["Transfer/sec:", v] => {
                let units = [
                    ("GB", 1073741824.0),
                    ("MB", 1048576.0),
                    ("KB", 1024.0),
                    ("B", 1.0),
                ];
                run.mb_per_s = unit_value(v, &units) / 1e6;
            }
            ["Latency", "Distribution"] => in_distribution = true,
            ["99%", v] if in_distribution => {
                run.p99_ms = unit_value(v, &[("us", 0.001), ("ms", 1.0), ("s", 1000.0)]);
            }
            ["Non-2xx", "or", "3xx", "responses:", n] if expect_2xx => {
                run.failed += n.parse::<u64>().unwrap_or(0);
            }
            ["Socket", "errors:", rest @ ..] => {
                run.failed += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(
        run.rps > 0.0 || run.mb_per_s > 0.0,
        "wrk {url} gave no result:\n{text}"
    );
    run
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Today's date (UTC), for the tables' headings.
pub fn today() -> String {
    String::from_utf8_lossy(
        &Command::new("date")
            .arg("-u")
            .arg("+%Y-%m-%d")
            .output()
            .expect("date")
            .stdout,
    )
    .trim()
    .to_owned()
}
