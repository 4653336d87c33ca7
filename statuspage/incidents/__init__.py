"""The incident domain: models, lifecycle, priority, SLA, public updates, maintenance.

Plain functions over models. Nothing in this package imports Flask.
"""
