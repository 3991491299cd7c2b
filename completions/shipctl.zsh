#compdef shipctl

_shipctl_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SHIPCTL_COMPLETE=complete_zsh shipctl)
}

compdef _shipctl_completion shipctl
