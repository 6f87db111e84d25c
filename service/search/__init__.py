"""The search stage: the user's request, a query parser we control, the OpenSearch body, and bilingual hits."""
