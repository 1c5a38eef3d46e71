"""The docker compose stack: valid YAML, every wallboard command exists in the CLI, no secret in the file.

Docker itself may be absent (CI has no daemon), so the file is checked by parsing it: each
``wallboard`` service's command, after the compose variable defaults are applied, must be
accepted by the real argument parser; the Prometheus config it mounts (with the rules generated
from the example site) is checked by the real ``promtool``, the Alertmanager config by ``amtool``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from wallboard.cli import build_parser
from wallboard.core.alert_rules import export_rules, inhibit_rules
from wallboard.core.site import load_site_file
from wallboard.core.thresholds import load_thresholds

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")
SECRETS = ("WALLBOARD_AMI_SECRET", "WALLBOARD_DISPLAY_TOKENS")


def _interpolate(text: str) -> str:
    """Apply compose interpolation as an empty environment would: defaults, and a placeholder for required ones."""

    def value(match: re.Match[str]) -> str:
        if match["op"] == ":-":
            return match["arg"]
        return f"<{match['name']}>"

    return VARIABLE.sub(value, text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(_interpolate(COMPOSE.read_text()))
    assert isinstance(loaded, dict)
    return loaded


def _wallboard_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in compose["services"].items() if spec.get("image") == "wallboard:latest"}


def test_stack_has_the_production_services(compose: dict[str, Any]) -> None:
    """redis, collector, engine, api (two replicas behind one proxy port) and prometheus are all there."""
    services = compose["services"]
    for name in ("redis", "collector", "engine", "api", "proxy", "prometheus"):
        assert name in services, name
    assert services["api"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["api"], "replicas must not fight over a host port: the proxy publishes it"
    assert services["proxy"]["ports"]


@pytest.mark.parametrize("service", ["simulator", "collector", "engine", "api"])
def test_every_wallboard_command_exists_in_the_cli(compose: dict[str, Any], service: str) -> None:
    """The command of each wallboard service is accepted by the real CLI parser."""
    spec = _wallboard_services(compose)[service]
    args = build_parser().parse_args([str(part) for part in spec["command"]])
    assert callable(args.func)


def test_one_engine_per_site(compose: dict[str, Any]) -> None:
    """The engine is never replicated: it owns the consumer group's progress and the checkpoint."""
    engine = compose["services"]["engine"]
    assert engine.get("deploy", {}).get("replicas", 1) == 1


def test_wallboard_services_use_the_compose_redis(compose: dict[str, Any]) -> None:
    """Every wallboard process reads REDIS_URL pointing at the redis service, so none starts an embedded one."""
    for name, spec in _wallboard_services(compose).items():
        if name == "simulator":
            continue
        assert spec["environment"]["REDIS_URL"].startswith("redis://redis:"), name


def test_no_secret_is_written_in_the_file() -> None:
    """Secrets are only ever interpolated from the environment, and required (``:?``) rather than defaulted."""
    raw = yaml.safe_load(COMPOSE.read_text())
    seen = 0
    for spec in raw["services"].values():
        environment = spec.get("environment") or {}
        for key in SECRETS:
            if key in environment:
                seen += 1
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", environment[key]), (key, environment[key])
    assert seen >= 3


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    """Every bind-mounted file (or Grafana's provisioning folder) of the stack is in the repository."""
    mounts = [
        volume.split(":")[0]
        for spec in compose["services"].values()
        for volume in spec.get("volumes", [])
        if volume.startswith("./")
    ]
    assert mounts
    for mount in mounts:
        assert (ROOT / mount).is_file() or (mount.startswith("./grafana/") and (ROOT / mount).is_dir()), mount


def test_dockerfile_installs_the_cli() -> None:
    """The image's entry point is the ``wallboard`` command installed from this project, on the locked versions."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install --no-deps \.", dockerfile, re.M)
    assert "uv export --frozen" in dockerfile and "COPY pyproject.toml uv.lock" in dockerfile
    assert 'ENTRYPOINT ["wallboard"]' in dockerfile


@pytest.mark.prometheus  # runs promtool
def test_prometheus_config_is_valid_for_promtool(tmp_path: Path) -> None:
    """The mounted Prometheus config passes the real ``promtool check config`` and scrapes the API replicas."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with the Debian prometheus package (scripts/bootstrap installs it)"
    config = ROOT / "deploy" / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load(config.read_text())["scrape_configs"]}
    assert jobs["wallboard"]["dns_sd_configs"][0]["names"] == ["api"]


# -- alerting: Alertmanager, and the rules Prometheus loads -------------------------------

ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "wallboard.yml"
EXAMPLE_SITE = ROOT / "deploy" / "site.example.yaml"


@pytest.mark.prometheus  # runs amtool
def test_alertmanager_config_is_valid_for_amtool() -> None:
    """The mounted Alertmanager config passes the real ``amtool check-config``."""
    amtool = shutil.which("amtool")
    assert amtool, "amtool comes with the Debian prometheus-alertmanager package (scripts/bootstrap installs it)"
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_pages_on_page_severity_and_lets_alarms_mute_their_warn() -> None:
    """page -> one webhook receiver, ticket and warning -> another; the inhibit rule is the generated one."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    routes = {tuple(route["matchers"]): route["receiver"] for route in config["route"]["routes"]}
    pager, tickets = routes[('severity="page"',)], routes[('severity=~"ticket|warning"',)]
    assert pager != tickets
    assert receivers[pager]["webhook_configs"] and receivers[tickets]["webhook_configs"]
    assert config["inhibit_rules"] == inhibit_rules()


def test_prometheus_evaluates_the_generated_rules_and_alerts_alertmanager(compose: dict[str, Any]) -> None:
    """Prometheus loads rules/*.yml (the generated file is mounted there) and sends to the alertmanager service."""
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    (target,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:9093"
    services = compose["services"]
    assert (
        "./deploy/prometheus/rules/wallboard.yml:/etc/prometheus/rules/wallboard.yml:ro"
        in services["prometheus"]["volumes"]
    )
    assert services["alertmanager"]["image"].startswith("prom/alertmanager:")
    assert (
        "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in services["alertmanager"]["volumes"]
    )


def test_the_committed_rules_are_exactly_what_export_rules_generates() -> None:
    """deploy/prometheus/rules/wallboard.yml is `wallboard alerts export-rules` of the example site, unedited,
    and the example site's thresholds are examples/thresholds.yaml's."""
    site = load_site_file(EXAMPLE_SITE)
    example = load_thresholds(yaml.safe_load((ROOT / "examples" / "thresholds.yaml").read_text()))
    assert site.thresholds == example
    text = RULES.read_text()
    stamp = re.search(r" at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\.", text.splitlines()[0])
    assert stamp, "the generated header names its generation time"
    generated_at = datetime.fromisoformat(stamp[1].replace("Z", "+00:00"))
    assert export_rules(site.thresholds, site, generated_at).to_yaml() == text


# -- history: recording rules and Grafana ---------------------------------------------------


def test_prometheus_loads_the_recording_rules(compose: dict[str, Any]) -> None:
    """The generated recording rules are mounted in the rules folder Prometheus loads (rules/*.yml)."""
    volumes = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules/recording.yml:/etc/prometheus/rules/recording.yml:ro" in volumes
    assert (ROOT / "deploy" / "prometheus" / "rules" / "recording.yml").is_file()


def test_grafana_is_provisioned_from_the_repository_and_needs_a_password(compose: dict[str, Any]) -> None:
    """Grafana mounts the datasource, provider and dashboards folders where the provider looks; no anonymous
    access, no sign-up; the admin password is required from the environment and published on loopback only."""
    from wallboard.grafana.build import CONTAINER_DASHBOARDS

    grafana = compose["services"]["grafana"]
    assert grafana["image"].startswith("grafana/grafana-oss:")
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts["./grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert mounts["./grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    assert mounts["./grafana/dashboards"] == CONTAINER_DASHBOARDS
    provider = yaml.safe_load((ROOT / "grafana" / "provisioning" / "dashboards" / "wallboard.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == CONTAINER_DASHBOARDS
    datasource = yaml.safe_load((ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and environment["GF_USERS_ALLOW_SIGN_UP"] == "false"
    raw = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", raw["GF_SECURITY_ADMIN_PASSWORD"])
    assert all(port.startswith("127.0.0.1:") for port in grafana["ports"])
