# Alerts and a dashboard on the services' own OpenTelemetry metrics (shared/telemetry/metrics.py), which
# Cloud Monitoring stores as workload.googleapis.com/<name> and PromQL reads as workload_googleapis_com:<name>.

resource "google_monitoring_alert_policy" "ledger_busy" {
  project               = var.project_id
  display_name          = "ai-backend ${var.env}: ledger transactions giving up on contention"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "ledger.busy in 5 min"
    condition_prometheus_query_language {
      query    = "sum(increase(workload_googleapis_com:ledger_busy[5m])) > 5"
      duration = "0s"
    }
  }
}

resource "google_monitoring_alert_policy" "webhook_failures" {
  project               = var.project_id
  display_name          = "ai-backend ${var.env}: payment webhooks failing"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "webhooks answered 5xx in 15 min"
    condition_prometheus_query_language {
      query    = "sum(increase(workload_googleapis_com:webhooks{status=~\"5..\"}[15m])) > 3"
      duration = "0s"
    }
  }
}

resource "google_monitoring_alert_policy" "error_answers" {
  project               = var.project_id
  display_name          = "ai-backend ${var.env}: error answers above 10 % of requests"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "5xx error answers over requests, 10 min"
    condition_prometheus_query_language {
      query    = "sum(rate(workload_googleapis_com:api_errors{status=~\"5..\"}[10m])) / sum(rate(workload_googleapis_com:http_server_request_duration_count[10m])) > 0.1"
      duration = "300s"
    }
  }
}

resource "google_monitoring_alert_policy" "ttft_p95" {
  project               = var.project_id
  display_name          = "ai-backend ${var.env}: time to first token p95 above ${var.ttft_p95_alert_s} s"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "llm.ttft p95 over 10 min"
    condition_prometheus_query_language {
      query    = "histogram_quantile(0.95, sum by (le) (rate(workload_googleapis_com:llm_ttft_bucket[10m]))) > ${var.ttft_p95_alert_s}"
      duration = "600s"
    }
  }
}

resource "google_monitoring_alert_policy" "breaker_open" {
  project               = var.project_id
  display_name          = "ai-backend ${var.env}: a provider deployment's circuit breaker is open"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "gateway.breaker.open for 5 min"
    condition_prometheus_query_language {
      query    = "max by (deployment) (workload_googleapis_com:gateway_breaker_open) > 0"
      duration = "300s"
    }
  }
}

resource "google_monitoring_dashboard" "platform" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "ai-backend ${var.env}"
    gridLayout = {
      columns = 2
      widgets = [
        for chart in [
          { title = "Requests by route and status", query = "sum by (http_route, http_response_status_code) (rate(workload_googleapis_com:http_server_request_duration_count[5m]))" },
          { title = "Credits moved (reserved, settled, released)", query = "sum by (op) (rate(workload_googleapis_com:credits[5m]))" },
          { title = "Error answers by code", query = "sum by (code) (rate(workload_googleapis_com:api_errors[5m]))" },
          { title = "Response cache lookups by hit", query = "sum by (hit) (rate(workload_googleapis_com:cache_lookups[5m]))" },
          { title = "Job steps by result", query = "sum by (result) (rate(workload_googleapis_com:job_steps[5m]))" },
          { title = "Payment webhooks by outcome", query = "sum by (provider, outcome) (rate(workload_googleapis_com:webhooks[15m]))" },
          { title = "Time to first token p95 by model", query = "histogram_quantile(0.95, sum by (le, model) (rate(workload_googleapis_com:llm_ttft_bucket[5m])))" },
          { title = "Gateway overhead p95 (ours, before the first byte)", query = "histogram_quantile(0.95, sum by (le) (rate(workload_googleapis_com:gateway_overhead_bucket[5m])))" },
          { title = "Provider attempts by outcome and failure", query = "sum by (provider, outcome, failure) (rate(workload_googleapis_com:gateway_attempts[5m]))" },
          { title = "Retries and fallbacks", query = "sum(rate(workload_googleapis_com:gateway_retries[5m])) or sum by (requested, served) (rate(workload_googleapis_com:gateway_fallbacks[5m]))" },
          { title = "Breakers open", query = "max by (deployment) (workload_googleapis_com:gateway_breaker_open)" },
          { title = "Output tokens per second p50 by model", query = "histogram_quantile(0.5, sum by (le, model) (rate(workload_googleapis_com:llm_output_rate_bucket[5m])))" },
          { title = "Guardrail findings by check and action", query = "sum by (check, action) (rate(workload_googleapis_com:guardrail_findings[5m]))" },
          ] : {
          title   = chart.title
          xyChart = { dataSets = [{ timeSeriesQuery = { prometheusQuery = chart.query }, plotType = "LINE" }] }
        }
      ]
    }
  })
}
