# One service account per workload, each with only the project roles listed for it.
locals {
  grants = merge([
    for id, account in var.accounts : {
      for role in account.project_roles : "${id}/${role}" => { id = id, role = role }
    }
  ]...)
}

resource "google_service_account" "this" {
  for_each = var.accounts

  project = var.project_id
  # account_id: the provider validates it as an RFC 1035 name of 6 to 30 characters.
  account_id   = coalesce(each.value.account_id, each.key)
  display_name = each.value.display_name
}

resource "google_project_iam_member" "this" {
  for_each = local.grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.this[each.value.id].member
}
