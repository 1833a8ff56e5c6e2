"""The settings side of :class:`hourhand.app.Hourhand` (a mixin of it): reading the
settings of a config file and the environment (settings.py), the database they may name,
the alerting tables, the retention policy and the system schedule it makes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hourhand.alert_config import AlertingConfig
from hourhand.config import file_databases
from hourhand.errors import ConfigurationError
from hourhand.jobs import JobSpec
from hourhand.retention import BUILTIN_PREFIX, RETENTION, retention_in_env, retention_schedule
from hourhand.schedule_model import ScheduleSpec
from hourhand.store import Store, check_url, locate

if TYPE_CHECKING:
    from hourhand.retention_config import RetentionSettings
    from hourhand.settings import Settings

# where a database URL came from that a config file does not override
GIVEN = ("argument", "--database", "HOURHAND_DATABASE")


class AppSettings:
    """Settings of :class:`~hourhand.app.Hourhand`: ``hh.settings``, ``hh.alerting``,
    ``hh.retention()``, ``hh.load_settings(path)``."""

    if TYPE_CHECKING:  # what the mixin uses of Hourhand
        database_url: str
        database_origin: str
        listen_database: str | None
        registry: dict[str, JobSpec]
        code_schedules: dict[str, ScheduleSpec]
        config_schedules: dict[str, ScheduleSpec]
        _settings: Settings | None
        _store: Store | None

    def _has_retention(self) -> bool:
        try:
            return self.retention() is not None
        except ConfigurationError:
            return True  # the sync says what is wrong

    def load_settings(self, path: str | Path | None) -> Settings:
        """Read the settings of a config file (None: of the environment alone) but not its
        schedules: the database, ``[smtp]``, ``[retention]``, the channels and alert rules.
        :meth:`load_config` reads them too."""
        settings = self._checked_settings(path)
        self._use(settings)
        return settings

    def load_alerting(self, path: str | Path) -> AlertingConfig:
        """Read the ``[smtp]``, ``[channels.*]`` and ``[alerts.*]`` tables of a config file
        (with the file's other settings: :meth:`load_settings`)."""
        return self.load_settings(path).alerting

    @property
    def settings(self) -> Settings:
        """The settings this app runs with (hourhand.settings.Settings): those of the
        config file it read, under the ``HOURHAND_*`` variables; of the variables alone if
        it read none (resolved at first use; ConfigurationError names a bad variable)."""
        if self._settings is None:
            from hourhand.settings import load_settings

            self._settings = load_settings(None)
        return self._settings

    @property
    def alerting(self) -> AlertingConfig:
        """``[smtp]``, ``[channels.*]`` and ``[alerts.*]`` of the settings."""
        return self.settings.alerting

    def retention(self) -> RetentionSettings | None:
        """The retention policy of the settings (``[retention]``, ``HOURHAND_RETENTION_*``);
        None: none, nothing is pruned but by hand."""
        if self._settings is None and not retention_in_env():
            return None  # (no need to load pydantic-settings to know)
        return self.settings.retention

    def use_config_databases(self, path: str | Path | None) -> None:
        """Take the database (and listen database) the config file at ``path`` names, if
        the app was given none (the CLI does this for every command: a worker that never
        reads the rest of the file must use the scheduler's database)."""
        if path is None or self.database_origin != "default":
            return
        database, listen = file_databases(path)
        self._check_database(database, path)
        self._take_databases(database, listen, str(path))

    def _checked_settings(self, path: str | Path | None) -> Settings:
        from hourhand.settings import load_settings

        settings = load_settings(path)
        self._check_database(settings.database, settings.path or "HOURHAND_DATABASE")
        return settings

    def _check_database(self, database: str | None, where: str | Path) -> None:
        if database is None or self.database_origin in GIVEN or self._store is None:
            return
        if check_url(database) != self.database_url:
            raise ConfigurationError(
                f"{where}: 'database' comes too late, the app already uses "
                f"{locate(self.database_url).masked}: read the config file before the "
                "app's first use of its database"
            )

    def _use(self, settings: Settings) -> None:
        """Take the settings; their database only where none was given (an argument,
        --database or HOURHAND_DATABASE when the app was made)."""
        self._settings = settings
        self._take_databases(
            settings.database, settings.listen_database, str(settings.path or "HOURHAND_DATABASE")
        )

    def _take_databases(self, database: str | None, listen: str | None, origin: str) -> None:
        if database and self.database_origin not in GIVEN:
            self.database_url = check_url(database)
            self.database_origin = origin
        if listen and self.listen_database is None:
            self.listen_database = check_url(listen)

    def system_schedules(self) -> list[ScheduleSpec]:
        """Code and config schedules (a config entry wins over code of the same name), and
        the retention schedule of ``[retention]`` if the settings have one."""
        specs = {**self.code_schedules, **self.config_schedules}
        retention = self.retention()
        if retention is not None:
            specs[RETENTION] = retention_schedule(retention)
        return list(specs.values())

    def own_job_types(self) -> list[str]:
        """The job types the app registered, by name: not hourhand's own (``hourhand.*``)."""
        return sorted(n for n in self.registry if not n.startswith(BUILTIN_PREFIX))
