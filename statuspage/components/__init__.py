"""Components, component groups, status history, the overall-status rollup and uptime."""
