from tests.faults.report import ROWS, table


def pytest_terminal_summary(terminalreporter) -> None:
    if ROWS:
        terminalreporter.section("money under faults")
        terminalreporter.write_line(table(ROWS))
