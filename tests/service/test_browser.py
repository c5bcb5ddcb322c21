"""The MLflow UI of the PostgreSQL-backed test server, in headless Debian Chromium driven by
Selenium: the sweep's experiment, its child runs and their `ari` column are on screen."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.service.conftest import ServerSweep

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1920,1080")
WAIT_S = 60
SCREENSHOTS = REPO / "reports" / "screenshots"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not binary.is_file():
            pytest.fail(f"{binary} not found; install the Debian package: "
                        f"apt-get install -y {package}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def _trials(sweep: ServerSweep) -> tuple[str, dict[str, float]]:
    """The experiment id and each trial run's name -> ari, read with MlflowClient."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(sweep.server.url)
    experiment = client.get_experiment_by_name(sweep.experiment)
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    return experiment.experiment_id, {r.info.run_name: r.data.metrics["ari"] for r in runs}


def _open_runs_with_ari(driver, sweep: ServerSweep) -> str:  # type: ignore[no-untyped-def]
    """Find the experiment in the list, open its runs, expand the sweep, add the ari column."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{sweep.server.url}/#/experiments")
    link = wait.until(ec.element_to_be_clickable((By.LINK_TEXT, sweep.experiment)))
    experiment_id = link.get_attribute("href").rstrip("/").split("/experiments/")[1]
    # MLflow 3 opens an experiment on its GenAI overview; the runs table lives under /runs.
    driver.get(f"{sweep.server.url}/#/experiments/{experiment_id}/runs")
    expand = wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, "[role=gridcell] button[data-component-id*='runnamecellrenderer']")))
    expand.click()
    wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, "[data-testid=column-selection-dropdown]"))).click()
    wait.until(ec.element_to_be_clickable(
        (By.XPATH, "//*[@role='menu' or @role='dialog' or @role='listbox' or "
                   "contains(@class,'popover') or contains(@class,'dropdown')]"
                   "//*[normalize-space(text())='ari']"))).click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    for close in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        close.click()  # the assistant side panel hides the table's right-hand columns
    return experiment_id


def test_mlflow_ui_shows_the_child_runs_and_their_ari(browser, server_sweep: ServerSweep,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id, ari = _trials(server_sweep)
    names = sorted(ari)
    assert _open_runs_with_ari(browser, server_sweep) == experiment_id

    def grid_text(driver) -> str:  # type: ignore[no-untyped-def]
        return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "[role=grid]"))

    WebDriverWait(browser, WAIT_S).until(
        lambda d: all(n in grid_text(d) for n in names) and
        any(h.text.strip() == "ari" for h in d.find_elements(By.CSS_SELECTOR,
                                                              "[role=columnheader]")))
    shot = tmp_path / "mlflow-runs.png"
    assert browser.save_screenshot(str(shot))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / shot.name)
    rows: dict[str, str] = {}  # ag-grid splits a row into pinned and scrolling parts
    for part in browser.find_elements(By.CSS_SELECTOR, "[role=row][aria-rowindex]"):
        index = part.get_attribute("aria-rowindex")
        rows[index] = rows.get(index, "") + "\n" + part.text
    shown = {name: next((r for r in rows.values() if name in r), "") for name in names}
    assert all(str(ari[name])[:5] in row for name, row in shown.items()), shown
    assert server_sweep.experiment in browser.find_element(By.TAG_NAME, "body").text
