"""The local node and the index analyzers, on a real OpenSearch node."""

from service.index import node


def tokens(client, index, analyzer, text):
    result = client.indices.analyze(index=index, body={"analyzer": analyzer, "text": text})
    return [t["token"] for t in result["tokens"]]


def test_node_reports_what_runs_where(opensearch_node):
    status = node.status(opensearch_node)
    assert status["running"] and status["installed"]
    assert status["health"]["status"] == "green"
    assert status["url"] == opensearch_node.url


def test_starting_a_running_node_is_a_no_op(opensearch_node):
    pid = node.running_pid(opensearch_node)
    assert node.start(opensearch_node)["status"] == "green"
    assert node.running_pid(opensearch_node) == pid


def test_arabic_analyzer_stems_inflected_forms_together(client, alias):
    stems = tokens(client, alias, "arabic_stemmed", "المقاتلين مقاتل والمقاتل المقاتل")
    assert len(set(stems)) == 1, stems


def test_arabic_analyzer_drops_stopwords_and_normalises(client, alias):
    assert tokens(client, alias, "arabic_stemmed", "في") == []
    assert tokens(client, alias, "arabic_stemmed", "أحمد") == tokens(client, alias, "arabic_stemmed", "احمد")


def test_arabic_exact_keeps_the_surface_form(client, alias):
    assert tokens(client, alias, "arabic_exact", "المقاتلين مقاتل") == ["المقاتلين", "مقاتل"]


def test_english_analyzer_stems(client, alias):
    assert (
        tokens(client, alias, "english_stemmed", "surrendered")[0]
        == tokens(client, alias, "english_stemmed", "surrender")[0]
    )
    assert tokens(client, alias, "english_exact", "Surrendered") == ["surrendered"]
