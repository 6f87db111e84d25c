"""The local node and the index analyzers, on a real OpenSearch node."""

from pathlib import Path

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


def test_the_node_has_the_knn_plugin_and_painless(opensearch_node, client):
    assert "opensearch-knn" in node.status(opensearch_node)["plugins"]
    components = {row["component"] for row in client.cat.plugins(format="json")}
    assert "opensearch-knn" in components
    modules = {m["name"] for n in client.nodes.info(metric="plugins")["nodes"].values() for m in n["modules"]}
    assert {"lang-painless", "analysis-common", "percolator"} <= modules


def test_knn_is_installed_only_where_maven_central_has_a_build_for_the_version():
    assert node.plugins_for("2.19.1") == {"opensearch-knn": "org.opensearch.plugin:opensearch-knn:2.19.1.0:zip"}
    assert node.plugins_for("3.5.0") == {"opensearch-knn": "org.opensearch.plugin:opensearch-knn:3.5.0.0:zip"}
    assert node.plugins_for("2.19.2") == {}


def test_a_data_directory_of_a_newer_version_is_named_with_what_to_do():
    local = node.LocalNode(Path("/os"), "2.19.1")
    console = "java.lang.IllegalStateException: cannot downgrade a node from version [2.19.2] to version [2.19.1]"
    message = node.start_failure(local, f"[INFO] starting\n{console}\n\tat org.opensearch...")
    assert "written by OpenSearch 2.19.2" in message and "2.19.1 cannot open it" in message
    assert "OPENSEARCH_VERSION=2.19.2" in message and "ingest your articles again" in message
    assert str(local.node_dir / "data") in message
    assert "console.log" in node.start_failure(local, "something else went wrong")


def test_java_major_reads_the_release_file(tmp_path):
    (tmp_path / "release").write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="25.0.3"\n', encoding="utf-8")
    assert node.java_major(tmp_path) == 25
    assert node.java_major(tmp_path / "absent") == 0
