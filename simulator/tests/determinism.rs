//! A seed fixes every figure: the same seed twice gives identical results, however the runs
//! were spread over threads; another seed gives other results.

use aviator_sim::scenario::{self, Window};

fn short(name: &str) -> scenario::Scenario {
    let mut s = scenario::by_name(name).expect("a known scenario");
    s.duration_s = 40.0;
    s.windows = vec![Window {
        label: "all".into(),
        start: 5.0,
        end: 40.0,
        load: None,
    }];
    s.steady_from_s = 5.0;
    s
}

fn figures(seed: u64) -> String {
    let evaluation = aviator_sim::evaluate(vec![short("cost"), short("outage")], seed);
    evaluation.json().to_string()
}

#[test]
fn a_seed_gives_the_same_figures_every_time() {
    let first = figures(7);
    assert_eq!(first, figures(7));
    assert_ne!(first, figures(8));
    // Real traffic was simulated, for every policy of both scenarios.
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    for scenario in json["scenarios"].as_array().unwrap() {
        let runs = scenario["runs"].as_array().unwrap();
        assert_eq!(runs.len(), aviator_sim::policy::PolicyKind::ALL.len());
        for run in runs {
            let requests = run["summary"]["windows"][0]["requests"].as_u64().unwrap();
            assert!(requests > 1_000, "{}: {requests} requests", run["policy"]);
        }
    }
}

#[test]
fn unknown_scenarios_are_refused() {
    assert!(scenario::by_name("nope").is_none());
    for name in scenario::NAMES {
        assert!(scenario::by_name(name).is_some(), "{name}");
    }
}
