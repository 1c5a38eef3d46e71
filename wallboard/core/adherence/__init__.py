"""Schedules and adherence: pure, no I/O, time is always an argument.

- ``policy``   which activities exist, what each agent state and pause reason counts as, grace periods
- ``schedule`` the planned activities (``Slot``, ``Schedule``) and their all-or-nothing import
- ``tracker``  real-time adherence and the day's figures per agent and team
- ``track``    one scheduled agent's track under the tracker (pieces, agent days, mismatches, its snapshot entry)
"""
