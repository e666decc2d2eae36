//! End to end: `--json` prints exactly one JSON document on stdout, for a dry run (the plan) and
//! for a real run (results and counts by reason), with values that match the test workspace.

mod common;

use common::*;
use serde_json::Value;

fn parse(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {run:?}"))
}

fn channel<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {doc:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_dry_run_is_the_plan_and_json_run_the_results() {
    let env = Env::start().await;
    let args = [
        "frank",
        "aki",
        "maria",
        "--channels",
        "bitsafe-acme,C0INIT,bitsafe-stark",
        "--json",
    ];

    let dry = env.run(&[&args[..], &["--dry-run"]].concat()).await;
    assert_eq!(dry.code, 0, "{dry:?}");
    let plan = parse(&dry);
    assert_eq!(plan["kind"], "plan");
    assert_eq!(plan["dry_run"], true);
    // acme: frank+maria (aki present); initech: all three; stark: aki+frank (maria excluded).
    assert_eq!(plan["totals"]["invites"], 7, "{plan:#}");
    assert_eq!(plan["totals"]["channels"], 3);
    assert_eq!(plan["totals"]["skipped"], 2);
    let acme = channel(&plan, "C0ACME");
    assert_eq!(acme["name"], "bitsafe-acme");
    let add: Vec<&str> = acme["add"]
        .as_array()
        .expect("add list")
        .iter()
        .map(|u| u["user_id"].as_str().expect("user_id"))
        .collect();
    assert_eq!(add, [FRANK, MARIA]);
    assert_eq!(acme["skipped"][0]["user"], "aki");
    assert_eq!(acme["skipped"][0]["reason"], "present");
    let stark = channel(&plan, "C0STARK");
    assert_eq!(stark["skipped"][0]["reason"], "excluded");
    assert_eq!(stark["skipped"][0]["detail"], "excluded: smaller channel");
    assert!(env.invites().is_empty(), "a dry run sends nothing");

    let real = env.run(&[&args[..], &["--yes"]].concat()).await;
    assert_eq!(real.code, 0, "{real:?}");
    let result = parse(&real);
    assert_eq!(result["kind"], "result");
    assert_eq!(result["ok"], true);
    assert_eq!(result["totals"]["added"], 7, "{result:#}");
    assert_eq!(result["totals"]["skipped"], 2);
    assert_eq!(result["totals"]["failed"], 0);
    assert!(result["run_id"].as_i64().is_some());
    assert_eq!(result["channels_not_reached"], 0);
    assert!(result["error"].is_null());
    let by = |result: &str, reason: &str| result_count(&real, result, reason);
    assert_eq!(by("added", ""), 7);
    assert_eq!(by("skipped", "present"), 1);
    assert_eq!(by("skipped", "excluded"), 1);
    let initech = channel(&result, "C0INIT");
    assert_eq!(initech["name"], "bitsafe-initech");
    assert_eq!(initech["added"].as_array().expect("added").len(), 3);
    assert_eq!(env.invites().len(), 3, "one call per channel");
    assert!(env.members("C0INIT").contains(&MARIA.to_string()));
}

fn result_count(run: &Run, result: &str, reason: &str) -> i64 {
    parse(run)["by_reason"]
        .as_array()
        .expect("by_reason")
        .iter()
        .find(|r| r["result"] == result && r["reason"] == reason)
        .and_then(|r| r["count"].as_i64())
        .unwrap_or(0)
}
