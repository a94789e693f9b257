from missive_server.cli.commands import main

main()
