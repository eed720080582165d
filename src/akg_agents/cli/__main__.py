from akg_agents.cli.app import main

main()
