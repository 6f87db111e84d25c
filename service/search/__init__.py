"""The search stage: a query parser we control, the OpenSearch request, and bilingual hits."""
