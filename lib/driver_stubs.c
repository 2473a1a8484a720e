/* Subcommands still to come (temporary). */
#include "cxerr.h"
#include "driver.h"
#include "log.h"

#define STUB(fn, name) \
int fn(int argc, char **argv, const char *argv0) \
{ (void)argc; (void)argv; (void)argv0; \
  cx_error("%s: not implemented yet", name); return CX_EXIT_INTERNAL; }

STUB(cx_drv_list_main, "list")
STUB(cx_drv_doctor_main, "doctor")
STUB(cx_drv_cleanup_main, "cleanup")
STUB(cx_drv_migrate_main, "migrate")

#include "driver_setup.h"

int
cx_drv_aws_identity(struct cx_drv_setup *s, char **arn)
{
	(void)s;
	*arn = NULL;
	cx_error("AWS calls are not available yet");
	return CX_ERR_INTERNAL;
}

int
cx_drv_aws_instance_tags(struct cx_drv_setup *s, const char *id,
    cJSON **tags)
{
	(void)s; (void)id;
	*tags = NULL;
	cx_error("AWS calls are not available yet");
	return CX_ERR_INTERNAL;
}

int
cx_drv_setup_sshconfig(struct cx_drv_setup *s)
{
	(void)s;
	cx_error("ssh config writing is not available yet");
	return CX_ERR_INTERNAL;
}

int
cx_drv_migrate(const char *home, const char *target, int dry_run)
{
	(void)home; (void)target; (void)dry_run;
	cx_error("migrate is not available yet");
	return CX_ERR_INTERNAL;
}
