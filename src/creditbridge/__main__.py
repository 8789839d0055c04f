from creditbridge.cli.app import main

main()
