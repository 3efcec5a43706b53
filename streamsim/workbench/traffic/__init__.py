"""Synthetic players and live traffic: a seeded population, send schedules, and the driver."""

from streamsim.workbench.traffic.arrivals import (
    Schedule,
    compressed_offsets,
    compressed_schedule,
    compression_factor,
    daily_curve,
    poisson_offsets,
    poisson_schedule,
    send_order,
)
from streamsim.workbench.traffic.driver import (
    DriverClock,
    DriveStats,
    ManualClock,
    SendFailure,
    SleepingClock,
    drive,
)
from streamsim.workbench.traffic.population import (
    DEFAULT_HOUR_WEIGHTS,
    DEFAULT_TIME_ZONES,
    Beta,
    Population,
    PopulationConfig,
)

__all__ = [
    "DEFAULT_HOUR_WEIGHTS",
    "DEFAULT_TIME_ZONES",
    "Beta",
    "DriveStats",
    "DriverClock",
    "ManualClock",
    "Population",
    "PopulationConfig",
    "Schedule",
    "SendFailure",
    "SleepingClock",
    "compressed_offsets",
    "compressed_schedule",
    "compression_factor",
    "daily_curve",
    "drive",
    "poisson_offsets",
    "poisson_schedule",
    "send_order",
]
