"""The generated simulated site: roster, queues, sizing and the matching wallboard site file."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from pydantic import ValidationError

from collectors.simulator.config import (
    Indiscipline,
    SchedulePolicy,
    SimConfig,
    build_config,
    mean_handle_s,
    on_shift,
    site_config,
)
from collectors.simulator.names import agent_names, queue_names
from wallboard.core.site import AgentDirectory, SiteConfig


def test_the_same_arguments_build_the_same_site() -> None:
    """build_config is a pure function of its arguments; another seed gives another roster."""
    assert build_config(20, 3, seed=1) == build_config(20, 3, seed=1)
    assert build_config(20, 3, seed=1).agents != build_config(20, 3, seed=2).agents


def test_agents_have_unique_realistic_names_and_interfaces() -> None:
    """Names are distinct and include raw UTF-8 ones; interfaces are PJSIP/<4 digits> or Local/agentNN@agents/n."""
    config = build_config(40, 4, seed=0)
    names = [agent.name for agent in config.agents]
    assert len(set(names)) == 40
    assert {"José Álvarez", "Zoë O'Neill"} <= set(names)
    assert any(not name.isascii() for name in names[2:])
    interfaces = [agent.interface for agent in config.agents]
    assert len(set(interfaces)) == 40
    assert all(re.fullmatch(r"PJSIP/\d{4}|Local/agent\d\d@agents/n", interface) for interface in interfaces)
    styles = Counter(interface.split("/")[0] for interface in interfaces)
    assert styles == {"PJSIP": 20, "Local": 20}
    assert build_config(3, 1, interface_style="local").agents[0].state_interface == "Local/agent01@agents"


def test_skills_name_real_queues_and_every_queue_has_primary_agents() -> None:
    """Each agent's first skill is a primary queue at penalty 0; every queue is someone's primary."""
    config = build_config(40, 6, seed=4)
    names = {queue.name for queue in config.queues}
    primaries = Counter(agent.skills[0][0] for agent in config.agents)
    assert set(primaries) == names
    for agent in config.agents:
        assert agent.skills[0][1] == 0
        assert {queue for queue, _ in agent.skills} <= names
        assert len({queue for queue, _ in agent.skills}) == len(agent.skills)


def test_more_queues_get_generated_names() -> None:
    """Beyond the usual queue names, queues are numbered."""
    assert queue_names(4) == ["support", "sales", "billing", "tech"]
    assert queue_names(10)[-2:] == ["queue09", "queue10"]
    assert len(set(agent_names(500, random.Random(1)))) == 500


def test_shifts_cover_the_day_with_a_night_crew() -> None:
    """At least one agent is on shift at every hour, and many more at the afternoon peak than at night."""
    config = build_config(40, 4, seed=0)
    on = [sum(on_shift(agent, hour + 0.5) for agent in config.agents) for hour in range(24)]
    assert min(on) >= 1
    assert on[15] > 5 * on[3]


def test_arrival_rates_follow_staffing_and_handling_time() -> None:
    """Twice the agents carry about twice the calls; a queue with longer calls gets fewer of them per agent."""
    small, large = build_config(20, 2, seed=0), build_config(40, 2, seed=0)
    ratio = sum(q.peak_rate_per_min for q in large.queues) / sum(q.peak_rate_per_min for q in small.queues)
    assert 1.8 <= ratio <= 2.6
    support = large.queue("support")
    assert mean_handle_s(support, large.callers) > support.talk_median_s


def test_config_is_frozen_and_validated() -> None:
    """A built config cannot be changed, and bad values are refused when built."""
    config = build_config(4, 1)
    with pytest.raises(ValidationError):
        config.load_factor = 2.0
    with pytest.raises(ValidationError):
        SimConfig(agents=(), queues=(), timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        build_config(0, 1)


def test_site_config_resolves_every_name_the_pbx_uses() -> None:
    """The matching site file resolves each agent's interface and member name to its agent id."""
    config = build_config(10, 3, seed=2, timezone="Europe/Paris")
    site = site_config(config, site="demo")
    assert site.timezone == "Europe/Paris" and set(site.queues) == {"support", "sales", "billing"}
    assert site.queues["support"].sl_threshold_s == config.queue("support").servicelevel_s
    directory = AgentDirectory(site)
    for agent in config.agents:
        assert directory.resolve(agent.interface) == directory.resolve(agent.name) == agent.agent_id
        assert site.agents[agent.agent_id].team in site.teams


def test_indiscipline_spans_must_be_ordered_and_none_is_punctual() -> None:
    """A span (low, high) with low > high or below 0 is refused; Indiscipline.none() has every probability 0."""
    with pytest.raises(ValidationError, match="low <= high"):
        Indiscipline(late_return_s=(300.0, 60.0))
    with pytest.raises(ValidationError):
        Indiscipline(late_login_minutes=(-1.0, 2.0))
    with pytest.raises(ValidationError):
        Indiscipline(early_logout_p=1.5)
    punctual = Indiscipline.none()
    probabilities = (punctual.late_login_p, punctual.late_return_p, punctual.early_logout_p)
    assert probabilities + (punctual.unscheduled_pause_p,) == (0, 0, 0, 0)


def test_build_config_follows_a_schedule_only_when_asked() -> None:
    """build_config keeps random breaks by default (schedule None) and carries a SchedulePolicy when given."""
    assert build_config(3, 1).schedule is None
    policy = SchedulePolicy(indiscipline=Indiscipline.none())
    assert build_config(3, 1, schedule=policy).schedule == policy


def test_site_config_has_targets_a_team_override_and_the_escalation_extension() -> None:
    """The site file sets productivity targets (AHT a little above the expected handling time), the busiest
    queue's team a higher calls target of its own, and the supervisor's extension as escalation target."""
    config = build_config(20, 3, seed=4)
    site = site_config(config)
    assert site.targets is not None
    assert (site.targets.calls_per_shift, site.targets.shift_hours) == (60, 8)
    assert (site.targets.missed_rings_per_day, site.targets.occupancy_pct) == (3, (70, 90))
    handles = [mean_handle_s(spec, config.callers) for spec in config.queues]
    assert site.targets.aht_s is not None and min(handles) < site.targets.aht_s <= 1.25 * max(handles)
    assert site.escalation_targets == (config.transfers.escalation_extension,) == ("2000",)
    busiest = max(config.queues, key=lambda spec: spec.peak_rate_per_min).name
    overridden = {team for team, conf in site.teams.items() if conf.targets is not None}
    assert overridden == {f"{busiest}-team"}
    busy, other = site.agent_targets(f"{busiest}-team"), site.agent_targets("sales-team")
    assert busy is not None and other is not None
    assert (busy.calls_per_shift, other.calls_per_shift) == (75, 60)
    assert busy.aht_s == other.aht_s == site.targets.aht_s and busy.occupancy_pct == (70, 90)


def test_transfer_and_callback_policies_are_validated() -> None:
    """Shares are probabilities and the escalation extension is one dialplan extension."""
    config = build_config(4, 1)
    assert config.queues[0].transfer_share == 0.04 and config.transfers.escalation_share == pytest.approx(1 / 3)
    with pytest.raises(ValidationError):
        config.queues[0].model_validate({**config.queues[0].model_dump(), "transfer_share": 1.5})
    with pytest.raises(ValidationError):
        SimConfig.model_validate({**config.model_dump(), "transfers": {"escalation_extension": "20 00"}})
    with pytest.raises(ValidationError):
        SimConfig.model_validate({**config.model_dump(), "callbacks": {"after_abandon_p": -0.1}})


def test_the_site_files_targets_survive_a_dump_and_reload() -> None:
    """The demo dumps the site file and reads it back: every agent keeps the same targets."""
    site = site_config(build_config(20, 3, seed=1))
    again = SiteConfig.model_validate(site.model_dump())
    for team in [*site.teams, None]:
        assert again.agent_targets(team) == site.agent_targets(team)
