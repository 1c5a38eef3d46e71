"""History dashboards: Grafana dashboards as code, Prometheus recording rules, and the uploader.

- ``dashboards`` the list of the dashboards (grafana-foundation-sdk builders), rendered to grafana/dashboards/*.json
- ``panels``     what the dashboards share: variables, panel builders, query fragments
- ``queues``, ``agents``, ``staffing``, ``pipeline``, ``campaigns``: the dashboards, by subject
- ``rules``      recording rules for the interval figures (deploy/prometheus/rules/recording.yml)
- ``build``      every generated file, and which committed copies are stale (``wallboard grafana build``)
- ``push``       create the folder and upload changed dashboards with grafana-client (``wallboard grafana push``)
"""
