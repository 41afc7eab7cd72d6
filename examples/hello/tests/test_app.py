"""The example app's tests: the pipeline's run-tests step runs them (python3 -m unittest discover -s tests)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import app  # noqa: E402


class AppTest(unittest.TestCase):
    def test_root_answers_with_the_version(self):
        status, _, body = app.respond("/", 0.0, 0.5)
        self.assertEqual(status, 200)
        self.assertIn(f"version {app.VERSION}", body)

    def test_a_failure_rate_makes_requests_fail(self):
        self.assertEqual(app.respond("/", 1.0, 0.99)[0], 500)
        self.assertEqual(app.respond("/", 0.5, 0.7)[0], 200)

    def test_health_and_unknown_paths(self):
        self.assertEqual(app.respond("/healthz", 1.0, 0.0)[0], 200)
        self.assertEqual(app.respond("/nope", 0.0, 0.0)[0], 404)

    def test_metrics_are_the_histogram_flaggers_checks_read(self):
        histogram = app.Histogram(buckets=(0.1, 1.0))
        histogram.observe("GET", 200, 0.05)
        histogram.observe("GET", 500, 0.5)
        text = histogram.render()
        self.assertIn('http_request_duration_seconds_bucket{method="GET",status="200",le="0.1"} 1', text)
        self.assertIn('http_request_duration_seconds_bucket{method="GET",status="500",le="0.1"} 0', text)
        self.assertIn('http_request_duration_seconds_bucket{method="GET",status="500",le="+Inf"} 1', text)
        self.assertIn('http_request_duration_seconds_count{method="GET",status="500"} 1', text)

    def test_the_shipped_version_does_not_fail_on_purpose(self):
        self.assertEqual(app.FAILURE_RATE, 0.0)


if __name__ == "__main__":
    unittest.main()
