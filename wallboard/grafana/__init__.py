"""History dashboards: Grafana dashboards as code, Prometheus recording rules, and the uploader.

- ``dashboards`` grafana-foundation-sdk builders of the six dashboards, rendered to grafana/dashboards/*.json
- ``rules``      recording rules for the interval figures (deploy/prometheus/rules/recording.yml)
- ``build``      every generated file, and which committed copies are stale (``wallboard grafana build``)
- ``push``       create the folder and upload changed dashboards with grafana-client (``wallboard grafana push``)
"""
