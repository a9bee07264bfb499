# bridged: top-level Makefile.  See README.

PREFIX		?= /usr/local
SBINDIR		 = $(PREFIX)/sbin
# bridged-ssh, the ssh worker's program: bridged looks for it in
# ../libexec from its own directory (confcheck.c), so both follow PREFIX
LIBEXECDIR	 = $(PREFIX)/libexec
MANDIR		 = $(PREFIX)/share/man
SYSCONFDIR	?= /etc
# systemd's unit directory, when this system has one (else no unit)
SYSTEMDUNITDIR	?= $(shell pkg-config --variable=systemdsystemunitdir \
		    systemd 2>/dev/null || \
		    { [ -d /lib/systemd/system ] && echo /lib/systemd/system; })

# Debian 12 packages needed to build, test and run
DEPS		 = build-essential pkg-config bison libbsd-dev libevent-dev \
		   libssh-dev libsqlite3-dev libjansson-dev libseccomp-dev \
		   libmd-dev openssh-server openssh-client python3 sqlite3 gdb \
		   procps mandoc systemd strace iproute2

all:
	$(MAKE) -C bridged
	$(MAKE) -C bridgectl

# install what is missing (root on Debian 12); quiet when all is there
deps:
	@missing=""; for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		    grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	@# the real MCP clients regress/t-sdk.sh drives, pinned by
	@# regress/node/package-lock.json (Node.js 20 or later)
	@command -v npm >/dev/null 2>&1 || { apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
	@cd regress/node && { npm ls --silent >/dev/null 2>&1 || \
	    npm ci --no-audit --no-fund; }

check: all
	$(MAKE) -C regress check

stress: all
	$(MAKE) -C regress stress

bench: all
	$(MAKE) -C regress bench

run: deps all
	regress/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 bridged/bridged $(DESTDIR)$(SBINDIR)/bridged
	install -m 0755 bridged/bridged-ssh $(DESTDIR)$(LIBEXECDIR)/bridged-ssh
	install -m 0755 bridgectl/bridgectl $(DESTDIR)$(SBINDIR)/bridgectl
	install -m 0644 man/bridged.8 man/bridgectl.8 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/bridged.conf.5 $(DESTDIR)$(MANDIR)/man5
	@# the example, never over a config of the admin's
	install -d $(DESTDIR)$(SYSCONFDIR)/examples
	install -m 0644 etc/bridged.conf \
	    $(DESTDIR)$(SYSCONFDIR)/examples/bridged.conf
	@# the unit names the programs where they were installed
	if [ -n "$(SYSTEMDUNITDIR)" ]; then \
		install -d $(DESTDIR)$(SYSTEMDUNITDIR) && \
		sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
		    -e 's|/etc/bridged.conf|$(SYSCONFDIR)/bridged.conf|g' \
		    etc/bridged.service >$(DESTDIR)$(SYSTEMDUNITDIR)/bridged.service && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/bridged.service; \
	else \
		echo "no systemd unit directory: etc/bridged.service not installed"; \
	fi

clean:
	$(MAKE) -C bridged clean
	$(MAKE) -C bridgectl clean
	$(MAKE) -C regress clean

.PHONY: all deps check stress bench run install clean
