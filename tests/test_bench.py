"""The benchmark runs and reports (quick mode), so it cannot rot. No time is asserted."""

import json
import subprocess
import sys

from .conftest import ROOT


def test_quick_benchmark_runs_and_reports(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = sorted(path.suffix for path in tmp_path.iterdir())
    assert names == [".json", ".md", ".png", ".png", ".png"]
    results = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert {row["template"] for row in results["unique_renders"]} >= {"flash_sale", "low_stock"}
    for row in results["unique_renders"]:
        assert row["naive"]["p50_ms"] > 0 and row["layered"]["p50_ms"] > 0
        assert row["bare_encode_p50_ms"] > 0 and row["encodes_per_image"] >= 1
    hits = results["cache_hits"]
    for server in ("service", "bare_starlette"):  # wrk (time-bound) when installed, else ours
        assert hits[server]["requests"] > 0 and hits[server]["errors"] == 0
    if hits["service"]["generator"] == "asyncio":  # count-bound: the same number each
        assert hits["service"]["requests"] == hits["bare_starlette"]["requests"]
    assert len(hits["round_ratios"]) == hits["rounds"] and hits["workers"] == 2
    assert len(hits["round_cpu_ratios"]) == hits["rounds"] and hits["service_over_bare_per_cpu"] > 0
    assert hits["service"]["cpu_us_per_request"] > 0 < hits["bare_starlette"]["cpu_us_per_request"]
    overhead = results["http_overhead"]  # the same images over HTTP and in this process
    assert {row["template"] for row in overhead} >= {"flash_sale", "low_stock"}
    assert all(row["errors"] == 0 and row["same_bytes"] == 1 for row in overhead)
    assert all(row["http_over_encode"] > 0 and row["bare_encode_p50_ms"] > 0 for row in overhead)
    for row in overhead:  # where the time goes: every layered JPEG is composed and spliced
        assert {"fill", "parse", "composite", "encode", "splice", "HTTP"} <= set(row["stages_ms"])
    other = results["other_encoders"]  # jpegli and mozjpeg where installed: said either way
    assert {"libjpeg-turbo (Pillow)", "jpegli", "mozjpeg lossless"} <= set(other["encoders"])
    assert other["rows"] and all(
        0 < row["libjpeg-turbo (Pillow)"]["ssim"] <= 1 for row in other["rows"]
    )
    assert [row["concurrency"] for row in results["http_unique"]] == [1, 4]
    assert all(row["errors"] == 0 for row in results["http_unique"])
    assert all(row["within_budget"] == 1 for row in results["byte_budgets"])
    for row in results["quality_per_byte"]:  # never worse on a phone than quality-only
        assert row["ours"]["ssim"] >= row["quality_only"]["ssim"] - 1e-9
        assert row["ours"]["bytes"] <= row["budget_kb"] * 1000
    summary = next(tmp_path.glob("*.md")).read_text()
    assert results["countdown_gif"]["frames"] == 60 and results["countdown_gif"]["kb"] <= 500
    assert {row["kind"] for row in results["hostile"]["kinds"]} >= {"markers", "text"}
    assert all(row["cost"] <= results["hostile"]["limit"] for row in results["hostile"]["kinds"])
    assert "not refused" not in {row["refused"] for row in results["hostile"]["kinds"]}
    engine = results["text_engine"]
    assert {row["template"] for row in engine["templates"]} >= {"flash_sale", "loyalty_badge"}
    assert all(row["engine"]["p50_ms"] > 0 for row in engine["templates"])
    assert set(engine["scripts_flash_sale_p50_ms"]) >= {"latin", "arabic", "cjk", "emoji"}
    for heading in (
        "## 1.",
        "## 2.",
        "## 3.",
        "## 4.",
        "## 5.",
        "## 6.",
        "## 7.",
        "## 8.",
        "## 9.",
        "## 10.",
        "## 11.",
        "## 12.",
        "## 13.",
    ):
        assert heading in summary
    assert "![" in summary and results["machine"]["cores"] >= 1


def test_the_campaign_scenario_sends_everyone_once_and_reports(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "campaign", "--quick", "--recipients",
         "120", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(next(tmp_path.glob("*-campaign.json")).read_text())
    runs = {row["run"]: row for row in results["campaign"]["runs"]}
    assert set(runs) == {"baseline", "w2"}
    for row in runs.values():
        assert row["provider_calls"] == row["recipients"], "each recipient exactly once"
        assert row["sends_per_s"] > 0 and row["peak_rss_mb_per_worker"] > 0
        assert row["enqueue_to_call_ms"]["p99_ms"] >= results["campaign"]["latency_ms"] / 2
    assert runs["w2"]["vs_serial"] > 0 and "## 14. Campaign throughput" in done.stdout
