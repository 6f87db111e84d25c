"""The import graph of service/ has no cycles, function-level imports included.

`make lint` checks the floors and the nevers (import-linter, pyproject.toml); its acyclic_siblings contract compares
the modules of one package with each other, so a cycle between a package's __init__ and one of its own modules
would pass it. This looks at every import.
"""

import grimp


def test_no_module_imports_itself_back():
    graph = grimp.build_graph("service")
    cycles = [
        [importer, *graph.find_shortest_chain(importer=imported, imported=importer)]
        for importer in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if graph.chain_exists(importer=imported, imported=importer)
    ]
    assert cycles == []
