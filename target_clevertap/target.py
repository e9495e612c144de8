"""target-clevertap: load Singer streams into CleverTap as user profiles and events."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, ClassVar

import click
from jsonschema import Draft7Validator
from singer_sdk import Sink, Target
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import _ConfigInput

from target_clevertap.about import about_text, unused_setting_warnings, without_unused_settings
from target_clevertap.batch_files import batch_records
from target_clevertap.config import CONFIG_SCHEMA, Settings, batch_rows_note, config_errors
from target_clevertap.config_sources import (
    ENV_MARKER,
    UnusableConfig,
    environment_config,
    read_config_files,
)
from target_clevertap.delivery import DeliveryFailed
from target_clevertap.ledger import LedgerError
from target_clevertap.messages import InputError, LineCountingReader
from target_clevertap.pipeline import Pipeline, RunFailed
from target_clevertap.plan import DEFAULT_ON_DELETE, DELETED_AT, UnusableStreamSettings
from target_clevertap.record_validation import InvalidStreamSchema
from target_clevertap.rejects import RejectsUnwritable
from target_clevertap.sink import CleverTapSink
from target_clevertap.stopping import StopSignals
from target_clevertap.switch_interval import restored_switch_interval
from target_clevertap.text import shown

SECRET_SETTINGS = frozenset({"passcode", "event_ledger_url"})
CLOCK_CHECK_SECONDS = 1.0
# The cyclic garbage collector's thresholds while records flow (Python's default: 700, 10, 10).
# Records and payloads are acyclic, but with up to `max_concurrency` batches in flight tens of
# thousands of them are alive, and the default first threshold made ~900 collections per 200,000
# records, each scanning them: 0.76 s of the ~11 s of CPU such a run takes (benchmarks/README.md).
# Freed at once by reference counting, they do not need it; what does (request and error
# objects) is collected every 50,000 allocations instead.
GC_THRESHOLDS = (50_000, 20, 100)


class TargetClevertap(Target):
    """Singer target for CleverTap's upload API."""

    name = "target-clevertap"
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.BATCH,
    ]
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = CleverTapSink
    message_reader_class = LineCountingReader
    message_reader: LineCountingReader

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for warning in unused_setting_warnings(self.config):
            self.logger.warning(warning)
        self.pipeline = Pipeline(Settings.from_config(self.config), self.logger)
        if note := batch_rows_note(self.config):
            self.logger.info("%s", note)
        self._lean_sinks: dict[str, CleverTapSink | None] = {}
        self._clock_due = 0.0

    def run(self, file_input: IO[str] | None = None) -> int:
        """Read all input (or until SIGTERM/SIGINT) and deliver it; returns the exit code."""
        stop = StopSignals(self.logger, [self.pipeline.stop], self.pipeline.exit_now)
        with stop, self.pipeline.progress, _fewer_collections(), restored_switch_interval():
            failure = self._read_and_deliver(stop.lines(file_input or sys.stdin))
            if failure is not None:
                return self._fail(failure, stopped=stop.requested.is_set())
        if stop.requested.is_set():
            self.logger.info(
                "Stopped on request after delivering everything read; state is current."
            )
        return 0

    def _read_and_deliver(self, lines: Iterable[str]) -> str | None:
        """Process every line; returns why the run fails, if it does."""
        try:
            self.listen(lines)  # type: ignore[arg-type]
        except (
            InputError,
            InvalidStreamSchema,
            RecordsWithoutSchemaException,
            UnusableStreamSettings,
        ) as exc:
            return f"Input line {self.message_reader.line_number}: {exc}"
        except MissingKeyPropertiesError:
            return (
                f"Input line {self.message_reader.line_number}: the record lacks one of the key "
                "properties its stream's SCHEMA message declares (key_properties); check the tap."
            )
        except (RunFailed, DeliveryFailed) as exc:
            return str(exc)
        return None

    def _fail(self, reason: str, *, stopped: bool) -> int:
        """Fail the run: let batches already sent finish (their state may still be written)."""
        try:
            self.pipeline.finish()
        except RunFailed as exc:
            if str(exc) not in reason:
                self.logger.error("%s", exc)
        left = self.pipeline.undelivered
        if stopped and left:
            reason = (
                f"Stopped on request with {left} records read but not delivered; no state "
                f"covers them, so the next run sends them again. ({reason})"
            )
        elif stopped:
            reason = f"Stopped on request, but the drain failed: {reason}"
        self.logger.error("%s", reason)
        return 1

    def _setup_signal_handlers(self) -> None:
        """SIGTERM and SIGINT are handled while `run` reads and delivers (see `stopping`)."""

    # Per-record cost: the SDK's record path does much around the sink that this target does not
    # need (a copy, the stream map, the batch context, metadata pops, no-op hooks, two clock
    # reads). The lean path keeps what matters for a stream its stream maps pass through
    # unchanged (`_pass_through_sink`); every other record (a mapped, filtered, aliased,
    # flattened or unknown stream, a malformed message) takes the SDK's path.

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        record = message_dict.get("record")
        if (
            type(record) is dict
            and record.get(DELETED_AT) is not None
            and self._took_deleted_row(message_dict.get("stream"), record)
        ):
            return
        sink = self._lean_sink(message_dict)
        if sink is None:
            super()._process_record_message(message_dict)
            return
        sink.process_passed_through(message_dict["record"])
        if time.time() >= self._clock_due:
            self._on_clock()

    def _took_deleted_row(self, stream: Any, record: dict[str, Any]) -> bool:
        """Handle a row marked deleted as its stream's `on_delete` says; False: send it as usual.

        Read here, before stream maps and the SDK's removal of `_sdc_` keys, so no row marked
        deleted is upserted unless `on_delete` says so. The setting is that of the stream the
        row lands in (its alias, where stream maps rename it); a row that stream maps send to
        several streams is sent as usual only if every one of them says `upsert`. A stream
        without a SCHEMA yet is left to the SDK's path, which refuses it.
        """
        maps = self.mapper.stream_maps.get(stream)
        if not maps:
            return False
        sinks = {m.stream_alias: self._sinks_active.get(m.stream_alias) for m in maps}
        settings = {alias: _on_delete(sink) for alias, sink in sinks.items()}
        if all(on_delete == "upsert" for on_delete in settings.values()):
            return False
        for alias, sink in sinks.items():
            if settings[alias] == "delete" and isinstance(sink, CleverTapSink):
                sink.delete(record)
            else:
                self.pipeline.skip_deleted(alias)
        return True

    def _lean_sink(self, message: dict[str, Any]) -> CleverTapSink | None:
        stream = message.get("stream")
        if type(stream) is not str or type(message.get("record")) is not dict:
            return None
        try:
            return self._lean_sinks[stream]
        except KeyError:
            sink = self._lean_sinks[stream] = self._pass_through_sink(stream)
            return sink

    def _pass_through_sink(self, stream: str) -> CleverTapSink | None:
        """The stream's sink if the lean path does all the SDK would for its records, else None.

        That is: the stream's one stream map is the SDK's pass-through, without flattening (no
        `stream_maps` entry applies to it), and `add_record_metadata` is off.
        """
        maps = self.mapper.stream_maps.get(stream, [])
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled:
            return None
        sink = self._sinks_active.get(stream)
        if not isinstance(sink, CleverTapSink) or sink.include_sdc_metadata_properties:
            return None
        return sink

    def _on_clock(self) -> None:
        """The SDK's time-based steps, checked once a second on the lean path instead of per record.

        Record counters log their METRIC line once their interval has passed, and all sinks are
        drained when the last full drain is older than the SDK's max record age (5 minutes).
        """
        self._clock_due = time.time() + CLOCK_CHECK_SECONDS
        for sink in self._sinks_active.values():
            if sink.record_counter_metric.value:
                sink.record_counter_metric.increment(0)  # logs if its interval has passed
        self._handle_max_record_age()

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """Every record of the batch files, through the same record loop as a RECORD message."""
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        for record in batch_records(message_dict):
            self._process_record_message({"type": "RECORD", "stream": stream, "record": record})

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "schema"})
        schema = message_dict["schema"]
        if not isinstance(schema, dict) or "properties" not in schema:
            raise InputError(
                f"the SCHEMA for stream {shown(message_dict['stream'])} has no 'properties' "
                "(the JSON Schema of its records must list them); check the tap."
            )
        super()._process_schema_message(message_dict)
        self._lean_sinks.clear()  # a SCHEMA may register new stream maps and replace a sink

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        self.pipeline.add_state(message_dict["value"])

    def _drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        # Draining only hands partial batches to delivery, one thread at a time; the order of
        # requests is the ordering barrier's business (see `ordering`).
        del parallelism
        for sink in sink_list:
            self.drain_one(sink)

    def process_endofpipe(self) -> None:
        """Queue the last partial batches, wait for all, write the final state."""
        super().process_endofpipe()
        self.pipeline.finish()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = config_errors(self._config) or _schema_errors(schema, self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    @property
    def _env_var_config(self) -> dict[str, Any]:
        """Settings from TARGET_CLEVERTAP_* variables (`--config ENV`); a wrong type names its
        variable instead of raising the SDK's bare ValueError."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        try:
            return environment_config(schema, self._env_var_prefix)
        except UnusableConfig as exc:
            raise ConfigValidationError("Config validation failed", errors=exc.errors) from None

    @classmethod
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> _ConfigInput:
        """`--config` (repeatable: files, later ones winning, or ENV): a file that is missing or
        not JSON stops the target with one sentence naming it."""
        del param
        try:
            config = read_config_files(value)
        except UnusableConfig as exc:
            for error in exc.errors:
                cls.logger.error("%s", error)
            ctx.exit(1)
        return _ConfigInput(config=config, parse_env=ENV_MARKER in value)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK's built-in settings, less those that do nothing here (see `about`)."""
        super().append_builtin_config(config_jsonschema)
        without_unused_settings(config_jsonschema)

    @classmethod
    def print_about(cls, output_format: str | None = None) -> None:
        """`--about`: the plain text says each setting's description, default and whether it is
        required (the SDK's names and types only); markdown and JSON are the SDK's."""
        if output_format in (None, "text"):
            print(about_text(cls._get_about_info()))
        else:
            super().print_about(output_format)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: IO[str] | None = None,
    ) -> None:
        """CLI entry: like the SDK's, but the exit code says whether everything was delivered."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(config=config.config, parse_env_config=config.parse_env)
        # A rejects file or a ledger that cannot be used: the run does not start without it.
        except (RejectsUnwritable, LedgerError) as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        code = target.run(file_input)
        if target.pipeline.abandoned_requests:
            _exit_leaving_threads(code)
        sys.exit(code)


def _exit_leaving_threads(code: int) -> None:
    """Exit without joining the threads of requests abandoned at the stop deadline, which the
    interpreter's exit would wait for; the output is flushed first, the state lines whole."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage seldom while reading (see GC_THRESHOLDS), and never scan what the
    start-up made (the SDK's modules, settings, sinks): it lives as long as the process."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _on_delete(sink: Sink | None) -> str:
    return sink.plan.on_delete if isinstance(sink, CleverTapSink) else DEFAULT_ON_DELETE


def _schema_errors(schema: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Every setting, the SDK's built-in ones too, checked against the schema; secrets unquoted."""
    return [
        _describe(error.path, error.message)
        for error in Draft7Validator(schema).iter_errors(config)
    ]


def _describe(path: Iterable[Any], message: str) -> str:
    keys = [str(part) for part in path]
    setting = ".".join(keys) or "config"
    if SECRET_SETTINGS & set(keys):
        return f"Setting '{setting}' has an invalid value (not shown, it is secret)."
    return f"Setting '{setting}': {message}."
