//! The HTML report in a real browser: headless Chromium loads `--generate-report` output, and the
//! test checks that nothing is requested from the network, nothing is logged to the console, the
//! sort and filter script works, and the charts and tables carry the report's numbers.
//!
//! Needs `chromium` (Debian's package; `.ci/run` installs it and sets DIFFAI_REQUIRE_BROWSER=1,
//! which turns a missing browser into a failure). Without it, and without that variable, the test
//! says so on stderr and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_diffai");

/// Browsers tried, in order.
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser() -> Option<&'static str> {
    let found = BROWSERS.into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("DIFFAI_REQUIRE_BROWSER").is_none(),
            "DIFFAI_REQUIRE_BROWSER is set but none of {BROWSERS:?} runs"
        );
        eprintln!("browser test skipped: none of {BROWSERS:?} is installed");
    }
    found
}

/// What one headless page load left behind.
struct Load {
    dom: String,
    /// Console lines Chromium logged for the page.
    console: Vec<String>,
    /// URLs the page itself asked the network for (the browser's own background requests are
    /// told apart by their network isolation key, which for a page is its `file://` origin).
    requests: Vec<String>,
}

fn load(browser: &str, page: &Path, scratch: &Path) -> Load {
    let net_log = scratch.join("net.json");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-default-apps",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run the browser");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let log: Value = serde_json::from_slice(&std::fs::read(&net_log).unwrap()).unwrap();
    let mut requests: Vec<String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["params"])
        .filter(|p| {
            p["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.contains("file://"))
        })
        .filter_map(|p| p["url"].as_str())
        .filter(|u| !u.starts_with("file:"))
        .map(String::from)
        .collect();
    requests.dedup();
    Load {
        dom: String::from_utf8(out.stdout).unwrap(),
        console,
        requests,
    }
}

/// The value of `data-NAME="…"` on the element whose opening tag contains `marker`.
fn attribute(dom: &str, marker: &str, name: &str) -> String {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the page"));
    let tag = &dom[dom[..=at].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    let key = format!("{name}=\"");
    let start = tag
        .find(&key)
        .unwrap_or_else(|| panic!("{name} not on {tag}"))
        + key.len();
    tag[start..start + tag[start..].find('"').unwrap()].to_string()
}

/// Clicks the rel_l2 header (ascending), records the row order, then filters by `fc1` and
/// records the rows left visible; written into the page so `--dump-dom` carries them out.
const PROBE: &str = r#"<script>
(function(){
  var th=Array.prototype.find.call(document.querySelectorAll('#tensors th'),function(h){return h.textContent.trim()==='rel_l2';});
  th.click();
  var rows=document.querySelectorAll('#tensors tbody tr');
  document.body.setAttribute('data-sorted',Array.prototype.map.call(rows,function(r){return r.getAttribute('data-path');}).join(','));
  var box=document.querySelector('input.filter[data-table="tensors"]');
  box.value='fc1';
  box.dispatchEvent(new Event('input'));
  var shown=Array.prototype.filter.call(document.querySelectorAll('#tensors tbody tr'),function(r){return !r.hidden;});
  document.body.setAttribute('data-filtered',shown.map(function(r){return r.getAttribute('data-path');}).join(','));
  document.body.setAttribute('data-filter-visible',String(!box.hidden));
})();
</script>"#;

#[test]
fn the_html_report_works_offline_in_a_browser() {
    let Some(browser) = browser() else { return };
    let scratch = std::env::temp_dir().join(format!("diffai-browser-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let fx = root().join("tests/fixtures/analyses");
    let (old, new) = (
        fx.join("simplenet_old.safetensors"),
        fx.join("simplenet_new.safetensors"),
    );
    let report = scratch.join("report.html");
    let run = Command::new(BIN)
        .arg(&old)
        .arg(&new)
        .arg("--generate-report")
        .arg(&report)
        .args(["--include-charts", "--review-friendly", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&run.stdout).unwrap();

    // The page as written: no request, no console message, the script ran.
    let page = std::fs::read_to_string(&report).unwrap();
    let probed = scratch.join("probed.html");
    std::fs::write(&probed, page.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let loaded = load(browser, &probed, &scratch);
    assert!(loaded.requests.is_empty(), "{:?}", loaded.requests);
    assert!(loaded.console.is_empty(), "{:?}", loaded.console);
    let dom = &loaded.dom;

    // Sorting by rel_l2 ascending puts the rows in the order of the JSON's numbers ("inf" last).
    let rel = |c: &Value| match &c["metrics"]["rel_l2"] {
        Value::String(s) if s == "inf" => f64::INFINITY,
        v => v.as_f64().unwrap(),
    };
    let mut changes: Vec<&Value> = json["changes"].as_array().unwrap().iter().collect();
    changes.sort_by(|a, b| rel(a).total_cmp(&rel(b)));
    let want: Vec<&str> = changes
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    let sorted = attribute(dom, "<body", "sorted");
    let finite = want.iter().filter(|p| !p.ends_with("bias")).count();
    assert_eq!(
        sorted.split(',').take(finite).collect::<Vec<_>>(),
        want[..finite]
    );
    // (still in rel_l2 order: the finite weight before the bias whose change is infinite)
    assert_eq!(attribute(dom, "<body", "filtered"), "fc1.weight,fc1.bias");
    assert_eq!(attribute(dom, "<body", "filter-visible"), "true");

    // The charts carry the analyses' numbers.
    for row in json["analyses"]["show_layer_impact"]["rows"]
        .as_array()
        .unwrap()
    {
        let layer = row["layer"].as_str().unwrap();
        let drawn: f64 = attribute(dom, &format!("data-label=\"{layer}\""), "value")
            .parse()
            .unwrap();
        assert_eq!(drawn, row["rel_l2"].as_f64().unwrap(), "{layer}");
    }
    for id in [
        "chart-layers",
        "chart-histograms",
        "chart-similarity",
        "chart-sizes",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    let old_bytes = json["old"]["bytes"].as_u64().unwrap();
    assert!(dom.contains(&format!("data-value=\"{old_bytes}\"")));

    // The checks can fail: a page that loads an image and logs an error is caught.
    let bad = scratch.join("bad.html");
    std::fs::write(
        &bad,
        "<img src=\"http://example.invalid/x.png\"><script>console.error('boom')</script>",
    )
    .unwrap();
    let caught = load(browser, &bad, &scratch);
    assert_eq!(caught.requests, ["http://example.invalid/x.png"]);
    assert!(caught.console.iter().any(|l| l.contains("boom")));
    let _ = std::fs::remove_dir_all(&scratch);
}
